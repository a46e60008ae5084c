"""Who reads what, through the signed HTTP endpoint: every number-bearing command for every
role against every kind of target, the admin subcommands, the App Home view and the
switchboard actions. Numbers are seeded with recognisable values; a refusal must carry none.

The expectations are written out here, by hand, from the table in rhythms/permissions.py —
not computed by calling it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.models import MetricDaily, Person
from rhythms.home_view import PREVIEW_ACTION, RETIME_ACTION, TOGGLE_ACTION
from rhythms.models import RhythmOverride
from tests.bot.slack_env import bot, eventually, sandbox
from tests.reliability.support import ROLE_USERS, roles_org
from tests.support.rhythms import seed_directory

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)  # Tuesday afternoon in the US
MARKS = {"leo": 913, "omar": 827}  # calls today: any refusal mentioning these leaks

TARGETS = {  # name -> the words that name it
    "self": "",
    "teammate": "<@ULEO001>",
    "other_rep": "<@UOMAR01>",
    "own_team": "sdr",
    "other_team": "ae",
    "org": "org",
}
Y, N = True, False
# (role) -> target -> allowed, with transparent scoreboards (the default).
TABLE = {
    "rep": dict(self=Y, teammate=Y, other_rep=N, own_team=Y, other_team=N, org=Y),
    "manager": dict(self=Y, teammate=Y, other_rep=N, own_team=Y, other_team=N, org=Y),
    # Ben manages `ae`: "own_team"/"teammate" are still Dana's (sdr), so the other team to him.
    "other_manager": dict(self=Y, teammate=N, other_rep=Y, own_team=N, other_team=Y, org=Y),
    "exec": dict(self=Y, teammate=Y, other_rep=Y, own_team=Y, other_team=Y, org=Y),
    "admin": dict(self=Y, teammate=Y, other_rep=Y, own_team=Y, other_team=Y, org=Y),
    "unknown": dict(self=N, teammate=N, other_rep=N, own_team=N, other_team=N, org=N),
}
PRIVATE_CHANGES = {"rep": dict(teammate=N, org=N)}  # transparent_scoreboards = false


def cases(private: bool) -> list[tuple[str, str, str, bool]]:
    """(role, command, text, allowed) for /metric, /scoreboard and /velocity."""
    out = []
    for role, row in TABLE.items():
        row = {**row, **(PRIVATE_CHANGES.get(role, {}) if private else {})}
        for target, words in TARGETS.items():
            out.append((role, "/metric", f"calls {words}".strip(), row[target]))
            out.append((role, "/scoreboard", words, row[target]))  # org: a line per team
            if target in ("own_team", "other_team"):
                out.append((role, "/velocity", words, row[target]))
            if target == "org":
                out.append((role, "/velocity", "", row[target]))
    return out


def seed(factory: sessionmaker[Session], private: bool) -> None:
    cfg = roles_org(transparent_scoreboards=not private)
    seed_directory(factory, cfg)
    with factory() as s:
        people = {p.email.split("@")[0]: p for p in s.scalars(select(Person))}
        for name, value in MARKS.items():
            person = people[name]
            s.add(
                MetricDaily(
                    person_id=person.id,
                    metric="calls",
                    day=NOW.date(),
                    value=value,
                    team_key=person.team_key,
                )
            )
        s.commit()


def leaks(payload: dict[str, Any]) -> list[int]:
    """The marks shown in what a person reads (text and blocks; not timestamps or ids)."""
    text = json.dumps([payload.get("text"), payload.get("blocks")])
    return [v for v in MARKS.values() if re.search(rf"(?<![\d.]){v}(?![\d])", text)]


@pytest.mark.parametrize("private", [False, True], ids=["transparent", "private"])
@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_commands_show_numbers_only_to_whom_the_table_allows(
    session_factory: sessionmaker[Session], private: bool
) -> None:
    seed(session_factory, private)
    cfg = roles_org(transparent_scoreboards=not private)
    table = cases(private)

    async def scenario() -> list[dict[str, Any]]:
        with sandbox() as sb:
            for user in ROLE_USERS.values():
                sb.state.add_user(user, name=user.lower())
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=cfg) as b:
                assert b.driver is not None
                answers: list[dict[str, Any]] = []
                for role, command, text, _allowed in table:
                    before = len(sb.state.response_posts())
                    reply = await b.driver.slash_command(
                        command, text, user=ROLE_USERS[role], channel="C1"
                    )
                    assert reply.status == 200
                    await eventually(lambda n=before: len(sb.state.response_posts()) > n)
                    answers.append(sb.state.response_posts()[before])
                return answers

    answers = asyncio.run(scenario())
    wrong = []
    for (role, command, text, allowed), answer in zip(table, answers, strict=True):
        shown = bool(answer.get("blocks"))
        if shown != allowed or (not allowed and leaks(answer)):
            wrong.append((role, command, text, allowed, str(answer.get("text"))[:120]))
    assert not wrong, wrong
    # A rep's team view names teammates only where scoreboards are transparent; where they
    # are private it has the team's counts only (its totals, which include them, are /metric's).
    team_views = [
        json.dumps(a)
        for (r, c, t, _), a in zip(table, answers, strict=True)
        if r == "rep" and c == "/scoreboard" and t == TARGETS["own_team"]
    ]
    assert len(team_views) == 1 and ("Leo Martin" in team_views[0]) == (not private)
    assert "reps winning" in team_views[0]
    # The seeded numbers do show where allowed (the check above is not vacuous).
    exec_answers = [a for (r, c, t, _), a in zip(table, answers, strict=True) if r == "exec"]
    assert any(leaks(a) for a in exec_answers)


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_admin_commands_home_and_switchboard_are_for_admins_only(
    session_factory: sessionmaker[Session],
) -> None:
    seed(session_factory, private=False)
    cfg = roles_org()

    async def scenario() -> dict[str, dict[str, Any]]:
        with sandbox() as sb:
            for user in ROLE_USERS.values():
                sb.state.add_user(user, name=user.lower())
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=cfg) as b:
                driver = b.driver
                assert driver is not None
                seen: dict[str, dict[str, Any]] = {}
                for role in TABLE:
                    if role == "admin":
                        continue
                    user = ROLE_USERS[role]
                    for text in (
                        "rhythm off daily_scoreboard",
                        'rhythm time daily_scoreboard "0 9 * * *"',
                        "resync",
                    ):
                        n = len(sb.state.response_posts())
                        await driver.slash_command("/drumbeat", text, user=user, channel="C1")
                        await eventually(lambda n=n: len(sb.state.response_posts()) > n)
                    for action, value in (
                        (TOGGLE_ACTION, "daily_scoreboard"),
                        (RETIME_ACTION, "daily_scoreboard"),
                        (PREVIEW_ACTION, "daily_scoreboard"),
                    ):
                        reply = await driver.block_actions(
                            user=user, actions=[{"action_id": action, "value": value}]
                        )
                        assert reply.status == 200
                    await driver.app_home_opened(user)
                    seen[role] = await eventually(lambda u=user: sb.state.home_view(u))
                with session_factory() as s:
                    assert s.scalars(select(RhythmOverride)).all() == []  # nobody changed a thing
                assert sb.state.open_views() == [] or all(
                    "retime" not in json.dumps(v).lower() for v in sb.state.open_views()
                )
                # The admin can.
                admin = ROLE_USERS["admin"]
                await driver.slash_command(
                    "/drumbeat", "rhythm off daily_scoreboard", user=admin, channel="C1"
                )
                await eventually(lambda: _override_exists(session_factory))
                await driver.app_home_opened(admin)
                seen["admin"] = await eventually(lambda: sb.state.home_view(admin))
                return seen

    views = asyncio.run(scenario())
    switchboard = {role: TOGGLE_ACTION in json.dumps(v) for role, v in views.items()}
    assert switchboard == {role: role == "admin" for role in views}
    for role, view in views.items():
        if not TABLE[role]["teammate"]:  # the Home tab shows nobody else's numbers
            assert not leaks(view), role


def _override_exists(factory: sessionmaker[Session]) -> bool:
    with factory() as s:
        row = s.get(RhythmOverride, "daily_scoreboard")
        return row is not None and row.enabled is False
