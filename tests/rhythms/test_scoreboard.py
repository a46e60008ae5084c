"""Scoreboard composition: wording, numbers, and Slack's limits (via the sandbox's validator)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from bot.sandbox.blockkit import validate_blocks, validate_view
from metrics.calendar import WorkCalendar
from metrics.scoreboard import MetricStatus, PersonScoreboard
from rhythms.config import parse_org_config
from rhythms.scoreboard_message import (
    DETAILS_ACTION,
    TARGETS_ACTION,
    rep_message,
    sort_team,
    team_message,
    to_green,
    verdict,
)
from rhythms.scoreboard_views import details_view, parse_button_value, targets_view
from tests.support.rhythms import make_config, org_data

UTC = dt.UTC
DAY = dt.date(2026, 11, 23)
AS_OF = dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def metric(name: str, label: str, value: float, target: float, status: str) -> MetricStatus:
    return MetricStatus(
        metric=name,
        label=label,
        unit="count",
        kind="input",
        value=value,
        target=target,
        expected_now=target,
        status=status,  # type: ignore[arg-type]
        shortfall=max(0.0, target - value),
        history=(1, 3, 5, 7, 6, 4, value),
    )


def board(
    *metrics: MetricStatus, name: str = "Dana Ruiz", rank: int | None = 2
) -> PersonScoreboard:
    return PersonScoreboard(
        person_id=7,
        name=name,
        email="dana@acme.example",
        slack_user_id="UDANA01",
        team_key="sdr",
        timezone="America/Chicago",
        day=DAY,
        as_of=AS_OF,
        metrics=metrics,
        streak_days=3,
        team_rank=rank,
        team_size=8,
    )


FOUR = (
    metric("calls", "Calls", 56, 60, "yellow"),
    metric("emails", "Emails", 45, 40, "green"),
    metric("meetings_booked", "Meetings booked", 2, 2, "green"),
    metric("opportunities_created", "Opportunities created", 1, 1, "green"),
)


def test_verdict_and_what_turns_it_green() -> None:
    assert verdict(board(*FOUR)) == "Winning: 3 of 4 inputs on pace"
    two_behind = (
        metric("calls", "Calls", 56, 60, "yellow"),
        metric("meetings_booked", "Meetings booked", 1, 2, "red"),
    )
    assert verdict(board(*two_behind)) == "Behind: 0 of 2 inputs on pace"
    assert verdict(board(*FOUR[:2])) == "Winning: 1 of 2 inputs on pace"
    # one red input makes the rep red, whatever the others (metrics.scoreboard.overall_status)
    assert verdict(board(FOUR[0], two_behind[1], *FOUR[2:])) == "Behind: 2 of 4 inputs on pace"
    assert verdict(board(FOUR[0], FOUR[0], *FOUR[2:])) == "Winning: 2 of 4 inputs on pace"
    assert verdict(board(FOUR[0], FOUR[0], FOUR[0], FOUR[3])) == "Close: 1 of 4 inputs on pace"
    assert to_green(board(*two_behind)) == "4 more calls and 1 more meeting booked"
    assert verdict(board(metric("calls", "Calls", 70, 60, "green"))) == "Winning: on pace"
    assert to_green(board(metric("calls", "Calls", 70, 60, "green"))) is None
    assert verdict(board()) == "No targets for today"


def test_rep_message_content_and_limits() -> None:
    payload = rep_message(board(*FOUR))
    blocks = payload["blocks"]
    assert validate_blocks(blocks, "message") == []
    flat = json.dumps(blocks, ensure_ascii=False)
    assert "Winning: 3 of 4 inputs on pace" in flat
    assert "56 / 60" in flat and "4 more calls" in flat
    assert "3-day streak" in flat and "#2 of 8 on the team" in flat
    assert "`▂▄▆█▇▅▃`" in flat  # the 7-day sparkline of meetings (1, 3, 5, 7, 6, 4, 2)
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [DETAILS_ACTION, TARGETS_ACTION]
    assert parse_button_value(actions[0]["value"]) == (7, DAY)
    # ranked alone (teammates' days not started, or a team of one): no "#1 of 1"
    alone = dataclasses.replace(board(*FOUR), team_rank=1, team_size=1)
    assert "on the team" not in json.dumps(rep_message(alone)["blocks"])
    assert payload["text"].startswith("🟢 Winning: 3 of 4") and "calls 56/60" in payload["text"]


def test_rep_message_survives_absurd_input() -> None:
    many = tuple(metric(f"m{i}", "L" * 300, i, 10, "red") for i in range(60))
    payload = rep_message(board(*many, name="N" * 400))
    assert validate_blocks(payload["blocks"], "message") == []


def test_team_message_sorts_flags_and_fits_sixty_reps() -> None:
    boards = []
    for i in range(60):
        status = "green" if i % 3 == 0 else "yellow" if i % 3 == 1 else "red"
        value = {"green": 70.0, "yellow": 50.0, "red": 10.0}[status]
        boards.append(
            dataclasses.replace(
                board(metric("calls", "Calls", value, 60, status), rank=None),
                person_id=i,
                name=f"Rep {i:02d} " + "x" * 40,
            )
        )
    payload = team_message("SDR", boards, DAY)
    assert validate_blocks(payload["blocks"], "message") == []
    flat = json.dumps(payload["blocks"], ensure_ascii=False)
    assert "20 of 60 reps winning" in flat and "🟡 20" in flat
    assert "*Needs help:*" in flat and "…and 10 more" in flat
    divider = [b["type"] for b in payload["blocks"]].index("divider")
    ranked = "\n".join(b["text"]["text"] for b in payload["blocks"][divider + 1 : -1])
    assert ranked.index("1. 🟢 Rep 00") < ranked.index("21. 🟡 Rep 01") < ranked.index("🔴 Rep 02")
    assert [b.name[:6] for b in sort_team(boards)[:2]] == ["Rep 00", "Rep 03"]
    big = [dataclasses.replace(b, person_id=1000 + i) for i, b in enumerate(boards * 10)]
    assert validate_blocks(team_message("Huge", big, DAY)["blocks"], "message") == []


def test_modals_stay_inside_view_limits() -> None:
    cfg = make_config()
    details = details_view(board(*FOUR))
    assert validate_view(details) == []
    assert details["title"]["text"] == "Scoreboard details"  # type: ignore[index]
    sdr = board(metric("calls", "Calls", 40, 60, "red"))
    why = targets_view(cfg, sdr, role="rep", calendar=WorkCalendar(cfg.calendar))
    assert validate_view(why) == []
    flat = json.dumps(why, ensure_ascii=False)
    assert "the SDR team's target" in flat
    assert "09:00–18:00" in flat and "100% of pace" in flat


@pytest.mark.parametrize("transparent", [True, False], ids=["transparent", "private"])
def test_team_post_carries_a_chart_to_the_channel_when_asked(session_factory, transparent) -> None:  # type: ignore[no-untyped-def]
    """The manager's DM always has every rep's line; the team's channel (its reps read it)
    only where scoreboards are transparent — else the counts, and no chart of the reps."""
    import base64

    from sqlalchemy import select

    from metrics.clock import TravellingClock
    from rhythms.engine import RhythmEngine
    from rhythms.models import Delivery
    from rhythms.registry import default_registry
    from tests.support.rhythms import FakeScoreboards, seed_directory

    cfg = make_config()
    team = cfg.rhythms["team_scoreboard"]
    options = {**team.options, "chart": True}
    cfg = cfg.model_copy(
        update={
            "rhythms": {"team_scoreboard": team.model_copy(update={"options": options})},
            "org": cfg.org.model_copy(update={"transparent_scoreboards": transparent}),
        }
    )
    seed_directory(session_factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 23, 22, 46, tzinfo=UTC))  # 17:46 New York
    engine = RhythmEngine(
        session_factory=session_factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
    )
    engine.tick()
    with session_factory() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    kinds = {(d.recipient, d.kind) for d in rows}
    assert ("UMARIA1", "message") in kinds and ("#team-sdr", "message") in kinds
    text = {d.recipient: json.dumps(d.payload) for d in rows if d.kind == "message"}
    reps = [name for name in ("Dana Ruiz", "Leo Martin") if name in text["UMARIA1"]]
    assert reps and all((name in text["#team-sdr"]) == transparent for name in reps)
    assert "reps winning" in text["#team-sdr"]
    uploads = [d for d in rows if d.kind == "upload"]
    if not transparent:
        assert uploads == []
        return
    assert [d.recipient for d in uploads] == ["#team-sdr"]  # the manager's DM gets no upload
    assert base64.b64decode(uploads[0].payload["content_base64"]).startswith(b"\x89PNG")


def test_per_rep_charts_are_off_by_default_and_threaded_when_on(session_factory) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from metrics.clock import TravellingClock
    from rhythms.engine import RhythmEngine
    from rhythms.models import Delivery
    from rhythms.registry import default_registry
    from tests.support.rhythms import FakeScoreboards, seed_directory

    def run(options: dict[str, object]) -> list[Delivery]:
        cfg = make_config()
        daily = cfg.rhythms["daily_scoreboard"]
        cfg = cfg.model_copy(
            update={
                "rhythms": {
                    "daily_scoreboard": daily.model_copy(
                        update={"options": {**daily.options, **options}}
                    )
                }
            }
        )
        seed_directory(session_factory, cfg)
        clock = TravellingClock(dt.datetime(2026, 11, 24, 23, 31, tzinfo=UTC))  # 17:31 Chicago
        RhythmEngine(
            session_factory=session_factory,
            config=cfg,
            clock=clock,
            registry=default_registry(FakeScoreboards()),
        ).tick()
        with session_factory() as session:
            rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
            session.query(Delivery).delete()
            from rhythms.models import RhythmRun

            session.query(RhythmRun).delete()
            session.commit()
        return rows

    assert all(d.kind == "message" for d in run({}))
    rows = run({"per_rep_charts": True})
    uploads = [d for d in rows if d.kind == "upload"]
    messages = {(d.recipient, d.id) for d in rows if d.kind == "message"}
    assert uploads and len(uploads) == len(messages)
    by_recipient = {recipient: delivery_id for recipient, delivery_id in messages}
    assert all(u.thread_of_id == by_recipient[u.recipient] for u in uploads)


@pytest.mark.parametrize("transparent", [True, False], ids=["transparent", "private"])
def test_team_post_to_reps_in_the_audience_follows_privacy(session_factory, transparent) -> None:  # type: ignore[no-untyped-def]
    """A team scoreboard sent to the team's reps (audience = the team) shows them their
    teammates' lines only where scoreboards are transparent; else what the team's channel
    gets: the counts. The manager's DM always has every line."""
    from sqlalchemy import select

    from metrics.clock import TravellingClock
    from rhythms.config import Audience
    from rhythms.engine import RhythmEngine
    from rhythms.models import Delivery
    from rhythms.registry import default_registry
    from tests.support.rhythms import REPS, FakeScoreboards, seed_directory

    cfg = make_config()
    team = cfg.rhythms["team_scoreboard"].model_copy(update={"audience": Audience(teams=("sdr",))})
    cfg = cfg.model_copy(
        update={
            "rhythms": {"team_scoreboard": team},
            "org": cfg.org.model_copy(update={"transparent_scoreboards": transparent}),
        }
    )
    seed_directory(session_factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 23, 22, 46, tzinfo=UTC))  # 17:46 New York
    engine = RhythmEngine(
        session_factory=session_factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
    )
    engine.tick()
    with session_factory() as session:
        rows = session.scalars(select(Delivery).where(Delivery.kind == "message")).all()
        text = {d.recipient: json.dumps(d.payload, ensure_ascii=False) for d in rows}
    names = [name for _, name, _, _ in REPS]
    rep_ids = [slack for *_, slack in REPS]
    assert set(rep_ids) | {"UMARIA1", "#team-sdr"} <= set(text)
    assert all(name in text["UMARIA1"] for name in names)
    for rep in rep_ids:
        assert "reps winning" in text[rep]
        others = [name for name in names if name in text[rep]]
        assert others == (names if transparent else [])
        if not transparent:
            assert text[rep] == text["#team-sdr"]


def test_needs_help_names_the_worst_gap_not_the_first_red_metric() -> None:
    """Dana is red on calls (10 of 60: 17% of pace) and on meetings (0 of 2: 0%): the worst
    gap is the meetings, although calls come first in config order."""
    behind = board(
        metric("calls", "Calls", 10, 60, "red"),
        metric("meetings_booked", "Meetings booked", 0, 2, "red"),
        rank=None,
    )
    close = dataclasses.replace(
        board(
            metric("calls", "Calls", 55, 60, "yellow"),
            metric("emails", "Emails", 33, 40, "yellow"),
            metric("meetings_booked", "Meetings booked", 0, 2, "red"),
            rank=None,
        ),
        person_id=8,
        name="Leo Martin",
    )
    payload = team_message("SDR", [behind, close], DAY)
    help_text = next(
        b["text"]["text"]
        for b in payload["blocks"]
        if "Needs help" in b.get("text", {}).get("text", "")
    )
    assert "• Dana Ruiz: meetings booked 0/2" in help_text
    yellow = board(
        metric("calls", "Calls", 55, 60, "yellow"),  # 92%
        metric("emails", "Emails", 33, 40, "yellow"),  # 83%: the worse one
        rank=None,
    )
    flat = json.dumps(team_message("SDR", [yellow], DAY)["blocks"], ensure_ascii=False)
    assert "emails 33/40" in flat and "calls 55/60" not in flat


def test_team_post_counts_read_in_the_singular() -> None:
    red = board(metric("calls", "Calls", 10, 60, "red"), rank=None)
    one = team_message("SDR", [red], DAY)
    assert one["text"] == "SDR scoreboard Mon 23 Nov: 0 of 1 rep winning, 1 needs help"
    flat = json.dumps(one["blocks"], ensure_ascii=False)
    assert "*0 of 1 rep winning*" in flat and 'Sorted by share of pace · 1 rep"' in flat
    green = dataclasses.replace(
        board(metric("calls", "Calls", 70, 60, "green"), rank=None), person_id=8, name="Leo"
    )
    two = team_message("SDR", [red, green], DAY)
    assert two["text"] == "SDR scoreboard Mon 23 Nov: 1 of 2 reps winning, 1 needs help"
    three = team_message("SDR", [red, dataclasses.replace(red, person_id=9, name="Kim")], DAY)
    assert three["text"].endswith("0 of 2 reps winning, 2 need help")


def test_large_shortfalls_have_thousands_separators() -> None:
    calls = metric("calls", "Calls", 2, 1_500_000, "red")
    assert to_green(board(calls)) == "1,499,998 more calls"
    assert "1,499,998 more calls" in rep_message(board(calls))["text"]


def test_details_show_a_target_of_zero_and_why_explains_the_reps_own_target() -> None:
    """On a day off the target is 0, not "none"; a configured 0 is no target, and "Why these
    targets?" names where the rep's target comes from (the team's 0 beats the role's 50)."""
    data = org_data()
    data["metrics"] = [
        {"name": "calls", "targets": {"sdr": {"daily": 0}, "rep": {"daily": 50}}},
        {"name": "meetings_booked", "targets": {"sdr": {"daily": 2}}},
    ]
    cfg = parse_org_config(data)
    off = dataclasses.replace(metric("meetings_booked", "Meetings booked", 0, 0, "green"))
    details = json.dumps(details_view(board(off)), ensure_ascii=False)
    assert "*Target today*\\n0" in details and "none" not in details
    no_target = dataclasses.replace(
        metric("calls", "Calls", 21, 0, "none"), target=None, expected_now=None, shortfall=0.0
    )
    meetings = metric("meetings_booked", "Meetings booked", 1, 2, "red")
    shown = board(no_target, meetings)
    assert verdict(shown) == "Behind: 0 of 1 input on pace"
    details = json.dumps(details_view(shown), ensure_ascii=False)
    assert "*Target today*\\nnone" in details
    why = json.dumps(
        targets_view(cfg, shown, role="rep", calendar=WorkCalendar(cfg.calendar)),
        ensure_ascii=False,
    )
    assert "*Calls*: no target today — the SDR team's target is 0" in why
    assert "every rep" not in why
    assert "*Meetings booked*: 2 today — the SDR team's target (daily 2)" in why
    manager = targets_view(cfg, shown, role="manager", calendar=WorkCalendar(cfg.calendar))
    assert "team's target" not in json.dumps(manager, ensure_ascii=False)


def test_why_these_targets_speaks_the_reporting_currency() -> None:
    data = org_data()
    data["currency"] = {"reporting": "EUR"}
    data["metrics"] = [{"name": "pipeline_created", "targets": {"sdr": {"daily": 12500}}}]
    cfg = parse_org_config(data)
    pipeline = dataclasses.replace(
        metric("pipeline_created", "Pipeline created", 4000, 12500, "red"), unit="currency"
    )
    why = json.dumps(
        targets_view(cfg, board(pipeline), role="rep", calendar=WorkCalendar(cfg.calendar)),
        ensure_ascii=False,
    )
    assert "€12k today" in why and "daily €12k" in why and "€4.0k / €12k" in why
    assert "$" not in why
