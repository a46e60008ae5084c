from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from metrics.lookup import catalog_for
from metrics.models import MetricDaily, Person, SyncRun
from rhythms.config import OrgConfig, load_org_config
from rhythms.metric_answer import (
    Answer,
    Refused,
    answer,
    answer_blocks,
    catalog_blocks,
    resolve_subject,
)
from rhythms.metric_query import QueryError, Target, match_metric, parse_query, team_words
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
CATALOG = catalog_for(CFG)
TEAMS = {"sdr": "sdr", "ae": "ae", "cs": "cs", "team-sdr": "sdr", "account executives": "ae"}
# Wednesday 2026-11-25 15:00 New York
NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("calls", "calls"),
        ("Calls", "calls"),
        ("meetings", "meetings_booked"),
        ("opps", "opportunities_created"),
        ("win-rate", "win_rate"),
        ("cals", "calls"),
        ("pipeline_cov", "pipeline_coverage"),
        ("Demos held", "demos_held"),
    ],
)
def test_fuzzy_metric_names(word: str, name: str) -> None:
    assert match_metric(word, CATALOG) == name


def test_ambiguous_and_unknown_metric_names() -> None:
    with pytest.raises(QueryError, match="could mean"):
        match_metric("meetings_", CATALOG)
    with pytest.raises(QueryError, match="/metric list"):
        match_metric("banana", CATALOG)


@pytest.mark.parametrize(
    ("text", "target", "period", "compare"),
    [
        ("calls", Target("self"), "today", False),
        ("calls yesterday", Target("self"), "yesterday", False),
        (
            "meetings <@U0ABC|dana> last week vs last period",
            Target("user", "U0ABC"),
            "last week",
            True,
        ),
        ("calls @dana this month", Target("name", "dana"), "this month", False),
        ("win_rate ae last 30d", Target("team", "ae"), "last 30d", False),
        ("calls <#C1|team-sdr> this week vs previous", Target("team", "sdr"), "this week", True),
        ("calls org 2026-10-01..2026-10-31", Target("org"), "2026-10-01..2026-10-31", False),
        ("calls #sdr last month chart public", Target("team", "sdr"), "last month", False),
        ("calls this week vs last week", Target("self"), "this week", True),
        ("calls last month vs last month", Target("self"), "last month", True),
        ("calls sdr vs previous period", Target("team", "sdr"), "today", True),
        ("calls this month vs prior quarter", Target("self"), "this month", True),
        ("calls vs. Last Year yesterday", Target("self"), "yesterday", True),
    ],
)
def test_parse_query(text: str, target: Target, period: str, compare: bool) -> None:
    query = parse_query(text, CATALOG, TEAMS)
    assert (query.target, query.period, query.compare) == (target, period, compare)
    if "chart public" in text:
        assert query.chart and query.public


@pytest.mark.parametrize(
    ("text", "metric", "period"),
    [
        ("meetings booked this week", "meetings_booked", "this week"),
        ("connected calls", "connected_calls", "today"),
        ("Demos Held sdr last week", "demos_held", "last week"),
        ("meetings held", "meetings_held", "today"),
        ("meetings last week", "meetings_booked", "last week"),  # a synonym, one word
        ("cals yesterday", "calls", "yesterday"),  # a typo, one word
    ],
)
def test_metric_names_of_several_words(text: str, metric: str, period: str) -> None:
    query = parse_query(text, CATALOG, TEAMS)
    assert (query.metric, query.period) == (metric, period)


def test_team_names_of_several_words() -> None:
    for text in ("calls account executives this week", "calls Account  Executives this week"):
        query = parse_query(text, CATALOG, TEAMS)
        assert (query.target, query.period) == (Target("team", "ae"), "this week")
    with pytest.raises(QueryError, match="one person, team or the org"):
        parse_query("calls account executives sdr", CATALOG, TEAMS)


def test_channel_references_without_a_name() -> None:
    """Slack may send ``<#C…|>``: the id finds the team when the config gives the
    channel's id; else the reply says to use the channel's or the team's name."""
    by_id = team_words([("sdr", "SDR", "C000001"), ("ae", "Account Executives", "#team-ae")])
    assert parse_query("calls <#C000001|>", CATALOG, by_id).target == Target("team", "sdr")
    assert parse_query("calls <#C000001|old-name>", CATALOG, by_id).target.value == "sdr"
    assert parse_query("calls <#C000002|team-ae>", CATALOG, by_id).target.value == "ae"
    with pytest.raises(QueryError, match="type the channel's name with # or the team's name"):
        parse_query("calls <#C000001|>", CATALOG, TEAMS)


def test_parse_query_errors() -> None:
    with pytest.raises(QueryError, match="Usage"):
        parse_query("   ", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="one person, team or the org"):
        parse_query("calls @dana sdr", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="not a team channel"):
        parse_query("calls <#C999|random>", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="could mean"):  # still a question, not a guess
        parse_query("meetings_ booked this week", CATALOG, TEAMS)


def _setup(session: Session, cfg: OrgConfig = CFG) -> dict[str, Person]:
    apply_directory(session, cfg, today=NOW.date())
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    monday = dt.date(2026, 11, 23)
    for offset, (dana, leo) in enumerate([(50, 70), (62, 30), (20, 10)]):
        day = monday + dt.timedelta(days=offset)
        session.add(
            MetricDaily(
                person_id=people["dana"].id, metric="calls", day=day, value=dana, team_key="sdr"
            )
        )
        session.add(
            MetricDaily(
                person_id=people["leo"].id, metric="calls", day=day, value=leo, team_key="sdr"
            )
        )
    session.add(
        MetricDaily(
            person_id=people["leo"].id,
            metric="calls",
            day=monday - dt.timedelta(days=7),
            value=100,
            team_key="sdr",
        )
    )
    session.commit()
    return people


def test_answer_for_a_team_this_week(session: Session) -> None:
    people = _setup(session)
    query = parse_query("calls sdr this week vs last period", CATALOG, TEAMS)
    subject = resolve_subject(session, config=CFG, viewer=people["maria"], target=query.target)
    a = answer(session, config=CFG, query=query, subject=subject, now=NOW)
    assert a.value == 50 + 62 + 20 + 70 + 30 + 10
    # the whole week is the target ("this week" is judged against the week, paced):
    # sdr weekly 300 for each of 4 SDRs (Ben overrides only his daily target), for a normal
    # week: Thanksgiving week has 4 working days of 5, so 240 each
    assert a.target == pytest.approx(240 * 4)
    # Wed 15:00 NY: 2 full days + today's share out of 4 working days, for each rep in their
    # own zone, each a whole number: Dana (Chicago) 5/9 of today, Leo and Ben (New York) 6/9,
    # Aisha (Denver) 4/9 — not 6/9 for everyone
    each = a.target / 4
    shares = (5 / 9, 6 / 9, 6 / 9, 4 / 9)
    assert a.expected == sum(int(each * (2 + today) / 4 + 1e-9) for today in shares)
    assert a.expected < int(a.target * (2 + 6 / 9) / 4)
    assert a.previous == 100
    assert a.daily == (120.0, 92.0, 30.0)
    _, blocks = answer_blocks(a, currency="USD", now=NOW)
    assert validate_blocks(blocks) == []
    assert "▲ +142% vs previous period" in str(blocks)
    assert "No activity synced yet" not in str(blocks)


def test_team_targets_follow_who_was_on_the_team_each_day(session: Session) -> None:
    """Leo moves from sdr to ae on Wednesday: sdr's week target has his Monday and Tuesday
    (daily 60 each, not his weekly 300), ae's his days from Wednesday at ae's daily 15 —
    as each team's numbers count his rows of those days only."""
    from metrics.scoreboards import work_calendar

    people = _setup(session)
    moved = CFG.model_copy(
        update={
            "people": tuple(
                p.model_copy(update={"team": "ae"}) if p.email.startswith("leo.") else p
                for p in CFG.people
            )
        }
    )
    apply_directory(session, moved, today=NOW.date())  # Wednesday
    session.commit()
    targets = {}
    for team in ("sdr", "ae"):
        query = parse_query(f"calls {team} this week", CATALOG, TEAMS)
        subject = resolve_subject(
            session, config=moved, viewer=people["olivia"], target=query.target
        )
        targets[team] = answer(session, config=moved, query=query, subject=subject, now=NOW).target
    # Thanksgiving week: 4 working days of 5, so a weekly 300 is 240 (and 75 is 60)
    assert targets["sdr"] == pytest.approx(240 * 3 + 60 * 2)  # Dana, Aisha, Ben + Leo's 2 days
    leo_days = len(work_calendar(moved).working_days(NOW.date(), dt.date(2026, 11, 29)))
    assert leo_days >= 1
    assert targets["ae"] == pytest.approx(60 * 3 + 15 * leo_days)  # Chloe, Diego, Emma + Leo


def test_a_persons_and_the_orgs_targets_follow_the_team_of_each_day(session: Session) -> None:
    """Leo moves from sdr (60 calls a day) to ae (15) on Wed Nov 25: his Tuesday is an
    SDR's day (30 of 60: red, not 30 of ae's 15), his week Mon-Tue on sdr and Wed, Fri on ae
    (Thanksgiving off), and the org's target is its teams' (each counting his own days)."""
    people = _setup(session)
    moved = CFG.model_copy(
        update={
            "people": tuple(
                p.model_copy(update={"team": "ae"}) if p.email.startswith("leo.") else p
                for p in CFG.people
            )
        }
    )
    apply_directory(session, moved, today=NOW.date())  # Wednesday
    session.commit()

    def asked(text: str) -> Answer:
        query = parse_query(text, CATALOG, TEAMS)
        subject = resolve_subject(
            session, config=moved, viewer=people["olivia"], target=query.target
        )
        return answer(session, config=moved, query=query, subject=subject, now=NOW)

    tuesday = asked("calls @leo 2026-11-24")
    assert (tuesday.target, tuesday.value, tuesday.status) == (60, 30, "red")
    assert asked("calls @leo 2026-11-25").target == 15
    assert asked("calls @leo this week").target == 2 * 60 + 2 * 15
    teams = sum(asked(f"calls {team} this week").target or 0 for team in ("sdr", "ae", "cs"))
    assert asked("calls org this week").target == teams


def test_a_rep_exactly_on_target_is_green() -> None:
    """Ten working days of 0.9 are 9, not 9.000000000000002 (which made 9 of 9 yellow)."""
    from metrics.config import TargetSet
    from metrics.scoreboards import work_calendar
    from metrics.targets import status_for, target_for_range

    cfg = CFG.model_copy(
        update={
            "metrics": tuple(
                m.model_copy(update={"targets": {"sdr": TargetSet(daily=0.9)}})
                if m.name == "meetings_booked"
                else m
                for m in CFG.metrics
            )
        }
    )
    work = work_calendar(cfg)
    start = dt.date(2026, 10, 5)  # a Monday
    days = work.working_days(start, start + dt.timedelta(days=30))[:10]
    assert sum([0.9] * 10) != 9.0  # the sum the target must not be
    target = target_for_range(
        cfg,
        work,
        catalog_for(cfg).get("meetings_booked"),
        start,
        days[-1],
        email="dana.ruiz@acme.example",
        role="rep",
        team="sdr",
    )
    assert target == 9.0 and status_for(9.0, target, cfg.org) == "green"


@pytest.mark.parametrize(
    "text",
    ["calls 0001-01-01", "calls 0001-01-01..9999-12-31", "calls org 1000-01-01..2026-11-25"],
)
def test_dates_off_the_calendar_are_a_message(session: Session, text: str) -> None:
    """A ValueError is what `/metric` shows the person (an OverflowError was "Something
    went wrong")."""
    people = _setup(session)
    query = parse_query(text, CATALOG, TEAMS)
    subject = resolve_subject(session, config=CFG, viewer=people["tom"], target=query.target)
    with pytest.raises(ValueError, match=r"too early|3660 days"):
        answer(session, config=CFG, query=query, subject=subject, now=NOW)


@pytest.mark.parametrize(
    ("period", "shown"),
    [
        ("2026-11-01..2026-11-05", "Nov 1–Nov 5 (America/New_York)"),
        ("2025-11-01..2025-11-05", "Nov 1–Nov 5, 2025 (America/New_York)"),
        ("2025-12-29..2026-01-04", "Dec 29, 2025–Jan 4, 2026 (America/New_York)"),
        ("2018-01-01..2026-11-25", "Jan 1, 2018–Nov 25, 2026 (America/New_York)"),
    ],
)
def test_the_days_show_their_years_outside_this_year(
    session: Session, period: str, shown: str
) -> None:
    people = _setup(session)
    query = parse_query(f"calls org {period}", CATALOG, TEAMS)
    subject = resolve_subject(session, config=CFG, viewer=people["tom"], target=query.target)
    a = answer(session, config=CFG, query=query, subject=subject, now=NOW)
    _, blocks = answer_blocks(a, currency="USD", now=NOW)
    assert shown in str(blocks[-1])


def test_stale_and_empty_data_are_flagged(session: Session) -> None:
    people = _setup(session)
    session.add(
        SyncRun(
            source="demo",
            started_at=NOW - dt.timedelta(hours=30),
            finished_at=NOW - dt.timedelta(hours=30),
            status="ok",
        )
    )
    session.commit()
    query = parse_query("calls", CATALOG, TEAMS)
    subject = resolve_subject(session, config=CFG, viewer=people["dana"], target=query.target)
    a = answer(session, config=CFG, query=query, subject=subject, now=NOW)
    _, blocks = answer_blocks(a, currency="USD", now=NOW)
    assert "stale" in str(blocks) and "30 hours" in str(blocks)
    session.query(MetricDaily).delete()
    session.commit()
    a = answer(session, config=CFG, query=query, subject=subject, now=NOW)
    _, blocks = answer_blocks(a, currency="USD", now=NOW)
    assert "No activity synced yet" in str(blocks)


@pytest.mark.parametrize(
    ("viewer", "target", "allowed"),
    [
        ("dana", Target("self"), True),
        ("dana", Target("name", "leo"), True),  # transparent scoreboards: teammate
        ("dana", Target("name", "chloe"), False),  # another team
        ("dana", Target("team", "ae"), False),
        ("dana", Target("team", "sdr"), True),
        ("maria", Target("name", "leo"), True),
        ("maria", Target("name", "chloe"), False),  # manager of another team
        ("maria", Target("team", "cs"), False),
        ("olivia", Target("name", "chloe"), True),  # exec
        ("sam", Target("team", "cs"), True),  # admin
        ("tom", Target("org"), True),
    ],
)
def test_permissions(session: Session, viewer: str, target: Target, allowed: bool) -> None:
    people = _setup(session)
    if allowed:
        resolve_subject(session, config=CFG, viewer=people[viewer], target=target)
    else:
        with pytest.raises(Refused) as info:
            resolve_subject(session, config=CFG, viewer=people[viewer], target=target)
        assert "Chloe" not in str(info.value) or "numbers" in str(info.value)


def test_private_scoreboards_and_unknown_viewer(session: Session) -> None:
    private = CFG.model_copy(
        update={"org": CFG.org.model_copy(update={"transparent_scoreboards": False})}
    )
    people = _setup(session, private)
    with pytest.raises(Refused, match="private"):
        resolve_subject(
            session, config=private, viewer=people["dana"], target=Target("name", "leo")
        )
    with pytest.raises(Refused, match="Org-wide"):
        resolve_subject(session, config=private, viewer=people["dana"], target=Target("org"))
    with pytest.raises(Refused, match="don't know you"):
        resolve_subject(session, config=private, viewer=None, target=Target("self"))
    with pytest.raises(QueryError, match="can't find"):
        resolve_subject(session, config=private, viewer=people["sam"], target=Target("name", "zed"))


def test_catalog_listing_is_valid() -> None:
    text, blocks = catalog_blocks(CFG)
    assert "calls" in text and "demos_held" in text
    assert validate_blocks(blocks) == []


def _cli_org(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example org in the database at `db_url`, which the CLI is pointed at."""
    from metrics.store import make_engine, make_session_factory

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        _setup(s)
    engine.dispose()
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(EXAMPLE_CONFIG))


def test_metric_cli_json_and_errors(db_url: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    from bot.cli import main

    _cli_org(db_url, monkeypatch)
    assert (
        main(["metric", "calls", "--team", "sdr", "--period", "2026-11-23..2026-11-25", "--json"])
        == 0
    )
    out = _json.loads(capsys.readouterr().out)
    assert out["value"] == 242 and out["start"] == "2026-11-23" and out["end"] == "2026-11-25"
    assert out["timezone"] == "America/New_York" and out["status"] in ("green", "yellow", "red")
    assert (
        main(
            [
                "metric",
                "calls",
                "--person",
                "DANA.RUIZ@acme.example",
                "--period",
                "2026-11-24",
                "--json",
            ]
        )
        == 0
    )
    assert _json.loads(capsys.readouterr().out)["value"] == 62
    assert main(["metric", "banana", "--org"]) == 2
    assert "/metric list" in capsys.readouterr().err
    assert main(["metric", "calls", "--team", "nope"]) == 2
    assert main(["metric", "calls", "--org", "--period", "fortnight"]) == 2
    assert "unknown period" in capsys.readouterr().err


def test_metric_cli_says_what_was_wrong_with_its_input(db_url: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Bad input is a message and exit 2, never a traceback: text that looks like rich
    markup, dates off the calendar, empty --person/--team."""
    from bot.cli import main

    _cli_org(db_url, monkeypatch)
    for args, message in [
        (["[/]", "--org"], "I don't know a metric called `[/]`"),
        (["calls", "--org", "--period", "[/x]"], "unknown period '[/x]'"),
        (["calls", "--org", "--period", "0001-01-01"], "0001-01-01 is too early"),
        (["calls", "--org", "--period", "2026-01-01..2999-12-31"], "1 to 3660 days"),
        (["calls", "--person", ""], "--person needs an email or a name"),
        (["calls", "--person", "@"], "--person needs an email or a name"),
        (["calls", "--team", " "], "--team needs a team key or name"),
        (["calls", "--team", "nope"], "No team `nope`: try sdr, ae, cs"),
    ]:
        assert main(["metric", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in " ".join(err.split()) and "Traceback" not in err, (args, err)


def test_metric_cli_names_people_and_teams_as_slack_does(db_url: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """--person takes @dana like `/metric`; --team takes any word `/metric` takes."""
    import json as _json

    from bot.cli import main

    _cli_org(db_url, monkeypatch)
    for who, subject in [
        (["--person", "@dana"], "Dana Ruiz"),
        (["--person", "Dana Ruiz"], "Dana Ruiz"),
        (["--team", "SDR"], "SDR"),
        (["--team", "#team-sdr"], "SDR"),
        (["--team", "account executives"], "Account Executives"),
        (["--team", "Account Executives"], "Account Executives"),
    ]:
        assert main(["metric", "calls", *who, "--period", "2026-11-24", "--json"]) == 0, who
        assert _json.loads(capsys.readouterr().out)["subject"] == subject, who
