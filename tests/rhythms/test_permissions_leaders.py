"""Leaders in `rhythms.permissions`: a manager of two teams sees both (team numbers, their
people, their alerts), a director with no team covers her reports' teams, and where
scoreboards are private one person's numbers are never posted in a channel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import Person
from rhythms.permissions import (
    alert_concerns,
    can_post_in_channel,
    can_view_person,
    can_view_team,
    covered_teams,
)
from tests.support.leaders import email, leaders_org, seed


def test_a_manager_of_two_teams_may_see_both_and_no_other(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = leaders_org()
    people = seed(session_factory, cfg)
    maria, tom = people["maria"], people["tom"]
    assert can_view_team(maria, "sdr", cfg).allowed
    assert can_view_team(maria, "sdrw", cfg).allowed  # her second team (was refused)
    refused = can_view_team(maria, "ae", cfg)
    assert not refused.allowed
    assert "teams you lead (SDR East, SDR West)" in refused.reason
    assert not can_view_team(tom, "sdrw", cfg).allowed
    assert "your own team's numbers" in can_view_team(tom, "sdrw", cfg).reason
    assert not can_view_team(people["dana"], "sdrw", cfg).allowed  # a rep: own team only
    # Kim is on SDR West but reports to Tom: Maria still covers her team, Tom his report.
    kim = people["kim"]
    assert kim.manager_id == tom.id
    assert can_view_person(maria, kim, cfg).allowed
    assert can_view_person(tom, kim, cfg).allowed
    assert not can_view_person(tom, people["aisha"], cfg).allowed
    assert not can_view_person(maria, people["chloe"], cfg).allowed


def test_a_director_without_a_team_covers_the_teams_of_her_reports() -> None:
    cfg = leaders_org()
    assert covered_teams(cfg, email("vera"), None) == ["ae"]  # Tom reports to her
    assert covered_teams(cfg, email("maria"), "sdr") == ["sdr", "sdrw"]
    assert covered_teams(cfg, email("dana"), "sdr") == ["sdr"]
    assert covered_teams(cfg, email("olivia"), None) == []


def test_alerts_concern_the_teams_a_manager_covers_and_their_people(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = leaders_org()
    seed(session_factory, cfg)
    with session_factory() as session:
        p = {x.email.split("@")[0]: x for x in session.scalars(select(Person))}
        maria, tom, olivia, ben = p["maria"], p["tom"], p["olivia"], p["ben"]
        subjects = [
            "team:sdr",
            "team:sdrw",
            "team:ae",
            f"person:{ben.id}",
            f"person:{p['kim'].id}",
            f"person:{p['chloe'].id}",
            "org",
        ]
        concerns = {
            who.email.split("@")[0]: [s for s in subjects if alert_concerns(s, who, cfg)]
            for who in (maria, tom, olivia, ben)
        }
        # without the config (the App Home's call): her team and her reports' teams
        home = [s for s in subjects if alert_concerns(s, maria)]
    assert concerns["maria"] == [
        "team:sdr",
        "team:sdrw",
        f"person:{ben.id}",
        f"person:{p['kim'].id}",
    ]
    # Tom: his team, Chloe on it, and Kim who reports to him from SDR West
    assert concerns["tom"] == ["team:ae", f"person:{p['kim'].id}", f"person:{p['chloe'].id}"]
    assert concerns["olivia"] == subjects
    assert concerns["ben"] == [f"person:{ben.id}"]
    assert home == ["team:sdr", "team:sdrw", f"person:{ben.id}", f"person:{p['kim'].id}"]


def test_private_scoreboards_keep_one_persons_numbers_out_of_channels(
    session_factory: sessionmaker[Session],
) -> None:
    private, open_ = leaders_org(transparent=False), leaders_org(transparent=True)
    people = seed(session_factory, private)
    maria, leo = people["maria"], people["leo"]
    refused = can_post_in_channel(maria, leo.id, private)
    assert not refused.allowed
    assert "private" in refused.reason and "without `public`" in refused.reason
    assert can_post_in_channel(maria, None, private).allowed  # a team's or the org's
    assert can_post_in_channel(leo, leo.id, private).allowed  # his own
    assert can_post_in_channel(maria, leo.id, open_).allowed
