"""The scoreboard buttons: modal opened at once, filled after; access rules; bad values."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from bot.listeners.scoreboard import register_scoreboard_listeners, scoreboard_handlers
from metrics.clock import TravellingClock
from metrics.models import Person
from rhythms.config import OrgConfig, parse_org_config
from rhythms.models import Interaction
from rhythms.scoreboard_message import DETAILS_ACTION, TARGETS_ACTION, rep_message
from rhythms.scoreboard_views import button_rhythm, parse_button_value
from tests.reliability.support import ROLE_USERS, roles_org
from tests.support.rhythms import (
    FakeScoreboards,
    board_for,
    make_config,
    org_data,
    seed_directory,
)

UTC = dt.UTC
DAY = dt.date(2026, 11, 24)
AS_OF = dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def views_open(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("views.open", kwargs))
        return {"ok": True, "view": {"id": "V123"}}

    async def views_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("views.update", kwargs))
        return {"ok": True}


def click(
    factory: sessionmaker[Session],
    action_id: str,
    viewer: str,
    value: str,
    cfg: OrgConfig | None = None,
) -> tuple[list[str], FakeClient]:
    cfg = cfg or make_config()
    tasks = BackgroundTasks()
    handlers = scoreboard_handlers(
        session_factory=factory,
        clock=TravellingClock(dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC)),
        config=cfg,
        source=FakeScoreboards(),
        tasks=tasks,
    )
    client = FakeClient()
    acked: list[str] = []

    async def ack() -> None:
        acked.append("ack")
        assert client.calls == []  # ack comes before anything else

    async def scenario() -> None:
        body = {
            "trigger_id": "T1",
            "user": {"id": viewer},
            "actions": [{"action_id": action_id, "value": value}],
        }
        await handlers[action_id](ack=ack, body=body, client=client)
        assert [c[0] for c in client.calls] == ["views.open"]  # opened before computing
        await tasks.drain()

    asyncio.run(scenario())
    return acked, client


def _value(factory: sessionmaker[Session], email: str) -> str:
    with factory() as session:
        person = session.scalars(select(Person).where(Person.email == email)).one()
    return json.dumps({"p": person.id, "d": "2026-11-24"})


def _title(client: FakeClient) -> str:
    name, kwargs = client.calls[-1]
    assert name == "views.update" and kwargs["view_id"] == "V123"
    return str(kwargs["view"]["title"]["text"])


def test_details_and_targets_for_own_board(session_factory: sessionmaker[Session]) -> None:
    seed_directory(session_factory, make_config())
    value = _value(session_factory, "dana@acme.example")
    acked, client = click(session_factory, DETAILS_ACTION, "UDANA01", value)
    assert acked == ["ack"] and _title(client) == "Scoreboard details"
    assert "Dana Ruiz" in json.dumps(client.calls[-1][1]["view"])
    _acked, client = click(session_factory, TARGETS_ACTION, "UDANA01", value)
    assert _title(client) == "Why these targets?"
    assert "the SDR team's target" in json.dumps(client.calls[-1][1]["view"], ensure_ascii=False)
    with session_factory() as session:
        names = [i.name for i in session.scalars(select(Interaction))]
        assert names == [DETAILS_ACTION, TARGETS_ACTION]


def test_strangers_and_stale_buttons_get_a_clear_message(
    session_factory: sessionmaker[Session],
) -> None:
    seed_directory(session_factory, make_config())
    value = _value(session_factory, "dana@acme.example")
    _acked, client = click(session_factory, DETAILS_ACTION, "UNOBODY", value)
    view = json.dumps(client.calls[-1][1]["view"])
    assert "only open your own scoreboard" in view and "Dana" not in view
    _acked, client = click(session_factory, DETAILS_ACTION, "UMARIA1", value)  # her manager
    assert "Dana Ruiz" in json.dumps(client.calls[-1][1]["view"])
    _acked, client = click(session_factory, DETAILS_ACTION, "UDANA01", "garbage")
    assert "out of date" in json.dumps(client.calls[-1][1]["view"])


def test_buttons_follow_the_permissions_table(session_factory: sessionmaker[Session]) -> None:
    """Another team's manager may not open Dana's board; her teammate Leo only where
    scoreboards are transparent."""
    for transparent in (True, False):
        cfg = roles_org(transparent_scoreboards=transparent)
        seed_directory(session_factory, cfg)
        value = _value(session_factory, "dana@acme.example")
        shown = {}
        for who in ("other_manager", "manager", "exec"):
            _acked, client = click(session_factory, DETAILS_ACTION, ROLE_USERS[who], value, cfg)
            shown[who] = "Dana Ruiz" in json.dumps(client.calls[-1][1]["view"])
        _acked, client = click(session_factory, DETAILS_ACTION, "ULEO001", value, cfg)
        shown["teammate"] = "Dana Ruiz" in json.dumps(client.calls[-1][1]["view"])
        assert shown == {
            "other_manager": False,
            "manager": True,
            "exec": True,
            "teammate": transparent,
        }


def test_register_wires_both_buttons() -> None:
    registered: list[str] = []

    class FakeApp:
        def action(self, action_id: str) -> Any:
            registered.append(action_id)
            return lambda fn: fn

    register_scoreboard_listeners(
        FakeApp(),  # type: ignore[arg-type]
        session_factory=None,  # type: ignore[arg-type]
        clock=TravellingClock(dt.datetime(2026, 11, 24, tzinfo=UTC)),
        config=make_config(),
    )
    assert registered == [DETAILS_ACTION, TARGETS_ACTION]


def test_clicks_count_under_the_scoreboard_rhythms_configured_name(
    session_factory: sessionmaker[Session],
) -> None:
    """`/drumbeat rhythms` groups interactions by rhythm name: a scoreboard configured as
    `rep_scoreboard` must not show 0 uses because the listener said "daily_scoreboard"."""
    data = org_data()
    data["rhythms"]["rep_scoreboard"] = {
        **data["rhythms"].pop("daily_scoreboard"),
        "kind": "daily_scoreboard",
    }
    cfg = parse_org_config(data)
    seed_directory(session_factory, cfg)
    click(
        session_factory,
        DETAILS_ACTION,
        "UDANA01",
        _value(session_factory, "dana@acme.example"),
        cfg,
    )
    with session_factory() as session:
        assert [i.rhythm for i in session.scalars(select(Interaction))] == ["rep_scoreboard"]


def test_a_click_counts_under_the_rhythm_that_sent_the_button(
    session_factory: sessionmaker[Session],
) -> None:
    """With two scoreboard rhythms, the button carries its rhythm's name (`button_value`):
    a click on the second one's DM counts under it, not under the first configured; a name
    no longer configured (renamed since) falls back to the first."""
    data = org_data()
    first = data["rhythms"].pop("daily_scoreboard")
    data["rhythms"]["sdr_scoreboard"] = {**first, "kind": "daily_scoreboard"}
    data["rhythms"]["ae_scoreboard"] = {**first, "kind": "daily_scoreboard"}
    cfg = parse_org_config(data)
    seed_directory(session_factory, cfg)
    with session_factory() as session:
        dana = session.scalars(select(Person).where(Person.email == "dana@acme.example")).one()
    board = board_for(dana.id, dana.name, dana.email, dana.slack_user_id, DAY, AS_OF)
    payload = rep_message(board, rhythm="ae_scoreboard")
    actions = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    value = actions[0]["value"]
    assert button_rhythm(value) == "ae_scoreboard"
    assert parse_button_value(value) == (dana.id, DAY)  # the board it points at, as before
    click(session_factory, DETAILS_ACTION, "UDANA01", value, cfg)
    renamed = value.replace("ae_scoreboard", "old_name")
    click(session_factory, DETAILS_ACTION, "UDANA01", renamed, cfg)
    with session_factory() as session:
        rhythms = [i.rhythm for i in session.scalars(select(Interaction).order_by(Interaction.id))]
    assert rhythms == ["ae_scoreboard", "sdr_scoreboard"]
