from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_view
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import load_org_config
from rhythms.home_view import home_view
from rhythms.maple import save_reply
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)  # Tuesday 14:00 Chicago


def _people(session: Session) -> dict[str, Person]:
    apply_directory(session, CFG, today=NOW.date())
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    session.add(
        MetricDaily(
            person_id=people["dana"].id, metric="calls", day=NOW.date(), value=41, team_key="sdr"
        )
    )
    session.commit()
    return people


def test_rep_manager_admin_and_stranger_views(session: Session) -> None:
    people = _people(session)
    rep = home_view(session, config=CFG, slack_user_id=people["dana"].slack_user_id or "", now=NOW)
    assert validate_view(rep) == []
    text = str(rep["blocks"])
    assert "*Today*" in text and "*Calls* 41" in text and "switchboard" not in text
    manager = home_view(
        session, config=CFG, slack_user_id=people["maria"].slack_user_id or "", now=NOW
    )
    assert "MAPLE · Week 47" in str(manager["blocks"]) and "waiting for you" in str(
        manager["blocks"]
    )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=people["maria"].id,
        answers={"advanced": "a", "planned": "b"},
        submit=True,
        now=NOW,
    )
    session.commit()
    manager = home_view(
        session, config=CFG, slack_user_id=people["maria"].slack_user_id or "", now=NOW
    )
    assert "submitted" in str(manager["blocks"])
    admin = home_view(session, config=CFG, slack_user_id=people["sam"].slack_user_id or "", now=NOW)
    assert validate_view(admin) == []
    assert "Rhythm switchboard" in str(admin["blocks"]) and "Send me a preview now" in str(
        admin["blocks"]
    )
    from rhythms.alert_state import Observation, transition

    transition(
        session,
        rule="sdr-no-calls-by-11",
        subject=f"person:{people['leo'].id}",
        obs=Observation(True, False, 0),
        now=NOW,
        grace=dt.timedelta(0),
        cooldown=dt.timedelta(hours=1),
    )
    session.commit()
    admin = home_view(session, config=CFG, slack_user_id=people["sam"].slack_user_id or "", now=NOW)
    assert "Alert log" in str(admin["blocks"]) and "*fire*" in str(admin["blocks"])
    assert "Alert log" not in str(
        home_view(session, config=CFG, now=NOW, slack_user_id=people["dana"].slack_user_id or "")[
            "blocks"
        ]
    )
    stranger = home_view(session, config=CFG, slack_user_id="UNOBODY", now=NOW)
    assert "don't know you yet" in str(stranger["blocks"])


def test_home_speaks_the_reporting_currency(session: Session) -> None:
    """Today and this week in euros, as the scoreboard DM says them (no "$")."""
    import tomllib

    from rhythms.config import parse_org_config

    data = tomllib.loads(EXAMPLE_CONFIG.read_text())
    data["currency"] = {"reporting": "EUR"}
    for metric in data["metrics"]:
        if metric["name"] == "pipeline_created":
            metric["targets"]["ae"]["daily"] = 18000
    cfg = parse_org_config(data)
    apply_directory(session, cfg, today=NOW.date())
    emma = session.scalars(select(Person).where(Person.email == "emma.schmidt@acme.example")).one()
    emma.slack_user_id = "UEMMA01"
    session.add(
        MetricDaily(
            person_id=emma.id, metric="pipeline_created", day=NOW.date(), value=12500, team_key="ae"
        )
    )
    session.commit()
    view = home_view(session, config=cfg, slack_user_id="UEMMA01", now=NOW)
    assert validate_view(view) == []
    text = str(view["blocks"])
    assert "*Pipeline created* €12k / €" in text  # today, against pace
    assert "*Pipeline created* €12k of €72k" in text  # this week: Thanksgiving's, 4/5 of 90k
    assert "$" not in text


def test_home_alerts_read_as_the_rule_and_the_person(session: Session) -> None:
    from rhythms.alert_labels import rule_label
    from rhythms.alert_state import Observation, transition

    people = _people(session)
    for rule in ("rep-red-streak", "retired-rule"):
        transition(
            session,
            rule=rule,
            subject=f"person:{people['dana'].id}",
            obs=Observation(True, False, 0),
            now=NOW,
            grace=dt.timedelta(0),
            cooldown=dt.timedelta(hours=1),
        )
    session.commit()
    view = home_view(session, config=CFG, slack_user_id=people["dana"].slack_user_id or "", now=NOW)
    alerts = next(b["text"]["text"] for b in view["blocks"] if "Alerts firing" in str(b))
    assert alerts == "*Alerts firing* (1)\n• Calls turned red · Dana Ruiz"
    # a rule no longer in the config is evaluated by nobody: its firing is not listed
    # (`rhythms.alert_expiry`); wherever such a rule is named, it is by its name
    assert rule_label(CFG, "retired-rule") == "`retired-rule`"
