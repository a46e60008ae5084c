from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import SINCE_ALWAYS, apply_directory, map_crm_owners, unmatched_owners
from metrics.models import CrmUser, Person, Team, TeamMembership
from rhythms.config import load_org_config
from tests.conftest import EXAMPLE_CONFIG

TODAY = dt.date(2026, 11, 23)


def test_apply_directory_creates_people_teams_and_managers(session: Session) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    changes = apply_directory(session, cfg, today=TODAY)
    session.commit()
    assert changes.people_added == len(cfg.people)
    assert {t.key for t in session.scalars(select(Team))} == {"sdr", "ae", "cs"}
    dana = session.scalars(select(Person).where(Person.email == "dana.ruiz@acme.example")).one()
    maria = session.scalars(
        select(Person).where(Person.email == "maria.gonzalez@acme.example")
    ).one()
    assert dana.manager_id == maria.id
    assert dana.timezone_override == "America/Chicago"
    assert maria.manager_id is None  # a manager is not their own manager
    membership = session.scalars(
        select(TeamMembership).where(TeamMembership.person_id == dana.id)
    ).one()
    assert (membership.team_key, membership.valid_from, membership.valid_to) == (
        "sdr",
        SINCE_ALWAYS,
        None,
    )


def test_team_move_keeps_history_and_reapply_is_stable(session: Session) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    apply_directory(session, cfg, today=TODAY)
    session.commit()
    again = apply_directory(session, cfg, today=TODAY)
    assert (again.people_added, again.people_updated, again.team_moves) == (0, 0, 0)
    people = [
        p.model_copy(update={"team": "ae"}) if p.email == "dana.ruiz@acme.example" else p
        for p in cfg.people
    ]
    moved_cfg = cfg.model_copy(update={"people": tuple(people[:-1])})
    changes = apply_directory(session, moved_cfg, today=TODAY + dt.timedelta(days=3))
    session.commit()
    assert changes.team_moves == 1
    assert changes.people_deactivated == 1
    dana = session.scalars(select(Person).where(Person.email == "dana.ruiz@acme.example")).one()
    spans = session.execute(
        select(TeamMembership.team_key, TeamMembership.valid_from, TeamMembership.valid_to)
        .where(TeamMembership.person_id == dana.id)
        .order_by(TeamMembership.valid_from)
    ).all()
    assert [tuple(s) for s in spans] == [
        ("sdr", SINCE_ALWAYS, TODAY + dt.timedelta(days=3)),
        ("ae", TODAY + dt.timedelta(days=3), None),
    ]


def test_crm_owner_mapping_explicit_email_and_unmatched(session: Session) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    apply_directory(session, cfg, today=TODAY)
    session.add_all(
        [
            CrmUser(source="hubspot", external_id="1", email="DANA.RUIZ@ACME.EXAMPLE "),
            CrmUser(source="hubspot", external_id="2", email="d.alvarez@acme-sales.example"),
            CrmUser(source="hubspot", external_id="3", email="stranger@elsewhere.example"),
            CrmUser(source="hubspot", external_id="4", email=None, active=False),
        ]
    )
    session.flush()
    unmatched = map_crm_owners(session, cfg, "hubspot")
    session.commit()
    assert sorted(u.external_id for u in unmatched) == ["3", "4"]
    by_id = {u.external_id: u for u in session.scalars(select(CrmUser))}
    dana = session.scalars(select(Person).where(Person.email == "dana.ruiz@acme.example")).one()
    assert by_id["1"].person_id == dana.id
    assert by_id["2"].person_id is not None
    assert [u.external_id for u in unmatched_owners(session)] == ["3", "4"]
