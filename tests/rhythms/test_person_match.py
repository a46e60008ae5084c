"""`@name` finds people by accent-folded first, last and full name and email; asks back
when several match, suggests close names when none does — naming only people the viewer may
see. And a query that names no one is about what a leader leads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import OrgConfig, parse_org_config
from rhythms.default_subject import default_target
from rhythms.metric_answer import Refused, _person, resolve_subject
from rhythms.metric_query import ME, QueryError, Target

NY = "America/New_York"
# prefix, name, role, team
PEOPLE = (
    ("olivia", "Olivia Hart", "exec", None),
    ("sam", "Sam Okafor", "admin", None),
    ("maria", "Maria Gonzalez", "manager", "sdr"),
    ("tom", "Tom Becker", "manager", "ae"),
    ("vera", "Vera Lind", "manager", None),
    ("renee.dubois", "Renée Dubois", "rep", "sdr"),
    ("jose.nunez", "José Núñez", "rep", "sdr"),
    ("jose.perez", "José Pérez", "rep", "sdrw"),
    ("jose.silva", "Jose Silva", "rep", "ae"),
    ("dana", "Dana Ruiz", "rep", "sdr"),
)


def _config(*, transparent: bool = False) -> OrgConfig:
    people: list[dict[str, Any]] = []
    for prefix, name, role, team in PEOPLE:
        person = {"email": f"{prefix}@acme.example", "name": name, "role": role, "timezone": NY}
        people.append(person | ({"team": team} if team else {}))
    return parse_org_config(
        {
            "org": {"name": "Acme", "timezone": NY, "transparent_scoreboards": transparent},
            "calendar": {"country": "US"},
            "teams": [
                {"key": "sdr", "name": "SDR East", "manager": "maria@acme.example"},
                {"key": "sdrw", "name": "SDR West", "manager": "maria@acme.example"},
                {"key": "ae", "name": "Account Executives", "manager": "tom@acme.example"},
            ],
            "people": people,
            "metrics": [{"name": "calls", "targets": {"rep": {"daily": 10}}}],
        }
    )


CFG = _config()


def _people(session: Session, cfg: OrgConfig = CFG) -> dict[str, Person]:
    apply_directory(session, cfg, today=dt.date(2026, 11, 25))
    session.commit()
    return {p.email.split("@")[0]: p for p in session.scalars(select(Person))}


def _find(session: Session, viewer: Person | None, word: str, cfg: OrgConfig = CFG) -> str:
    return _person(session, viewer, Target("name", word), cfg).name


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("renee", "Renée Dubois"),  # first name, without its accent
        ("RENÉE", "Renée Dubois"),
        ("dubois", "Renée Dubois"),  # last name
        ("renee.dubois", "Renée Dubois"),  # email's local part
        ("renée_dubois", "Renée Dubois"),  # full name
        ("renee-dubois", "Renée Dubois"),
        ("renee.dubois@acme.example", "Renée Dubois"),  # email
        ("nunez", "José Núñez"),
        ("jose.nunez", "José Núñez"),
        ("dana", "Dana Ruiz"),
    ],
)
def test_names_as_people_type_them(session: Session, word: str, name: str) -> None:
    people = _people(session)
    assert _find(session, people["maria"], word) == name


def test_several_matches_are_a_question_naming_only_people_the_viewer_may_see(
    session: Session,
) -> None:
    people = _people(session)
    with pytest.raises(QueryError) as info:
        _find(session, people["maria"], "jose")  # Maria leads sdr and sdrw, not ae
    assert str(info.value) == (
        "`@jose` could be several people. Did you mean José Núñez (`@jose.nunez`) or "
        "José Pérez (`@jose.perez`)?"
    )
    assert _find(session, people["tom"], "jose") == "Jose Silva"  # the one Tom may see
    with pytest.raises(QueryError, match=r"José Núñez .*, José Pérez .* or Jose Silva"):
        _find(session, None, "josé")  # a trusted caller (the CLI) may see everyone
    with pytest.raises(QueryError) as info:
        _find(session, people["dana"], "jose")  # private scoreboards: a rep sees herself
    assert str(info.value) == "Several people are called `@jose`; you can't see their numbers."


def test_no_match_suggests_close_names_the_viewer_may_see(session: Session) -> None:
    people = _people(session)
    with pytest.raises(QueryError) as info:
        _find(session, people["maria"], "renne")
    assert str(info.value) == (
        "I can't find anyone called `@renne`. Did you mean Renée Dubois (`@renee.dubois`)?"
    )
    with pytest.raises(QueryError) as info:
        _find(session, people["tom"], "dubos")  # Renée is on a team Tom doesn't lead
    assert str(info.value) == "I can't find anyone called `@dubos`."
    with pytest.raises(QueryError) as info:
        _find(session, people["maria"], "z" * 600)
    assert "z" * 60 not in str(info.value) and f"`@{'z' * 59}…`" in str(info.value)


def test_one_match_the_viewer_may_not_see_is_refused_by_the_permission_check(
    session: Session,
) -> None:
    """What resolve_subject does today with `@renee` from Tom: it finds her (accents and
    all) and the permission check says why he may not see her."""
    people = _people(session)
    subject = resolve_subject(
        session, config=CFG, viewer=people["maria"], target=Target("name", "renee")
    )
    assert subject.name == "Renée Dubois"
    with pytest.raises(Refused, match="You can't see Renée Dubois's numbers"):
        resolve_subject(session, config=CFG, viewer=people["tom"], target=Target("name", "dubois"))


def test_without_a_config_only_the_viewer_counts_as_visible(session: Session) -> None:
    """`_person` called without the config (as `resolve_subject` still does) lists no
    one: a unique match is found, several are refused without names."""
    people = _people(session)
    assert _person(session, people["maria"], Target("name", "renee")).name == "Renée Dubois"
    with pytest.raises(QueryError, match="you can't see their numbers"):
        _person(session, people["maria"], Target("name", "jose"))


def test_a_mention_nobody_has_is_quoted_short(session: Session) -> None:
    people = _people(session)
    with pytest.raises(QueryError) as info:
        _person(session, people["maria"], Target("user", "U" + "9" * 600), CFG)
    assert "9" * 60 not in str(info.value) and "…> is not in Drumbeat's directory" in str(
        info.value
    )


def test_a_leader_asking_about_no_one_gets_what_they_lead(session: Session) -> None:
    people = _people(session)
    self_ = Target("self")
    assert default_target(self_, people["olivia"], CFG) == Target("org")  # exec
    assert default_target(self_, people["sam"], CFG) == Target("org")  # admin
    assert default_target(self_, people["tom"], CFG) == Target("team", "ae")
    assert default_target(self_, people["vera"], CFG) == self_  # leads no team
    assert default_target(self_, people["dana"], CFG) == self_  # a rep
    assert default_target(ME, people["olivia"], CFG) == ME  # "me": her own
    assert default_target(Target("team", "sdr"), people["olivia"], CFG) == Target("team", "sdr")
    assert default_target(self_, None, CFG) == self_
    with pytest.raises(QueryError) as info:
        default_target(self_, people["maria"], CFG)
    assert str(info.value) == (
        "You lead SDR East (`sdr`) and SDR West (`sdrw`): which one? Add its key, `org` for "
        "everyone or `me` for you."
    )
    # and resolve_subject answers for what it returns
    subject = resolve_subject(
        session,
        config=CFG,
        viewer=people["olivia"],
        target=default_target(self_, people["olivia"], CFG),
    )
    assert subject.name == "Acme"
    tom = default_target(self_, people["tom"], CFG)
    subject = resolve_subject(session, config=CFG, viewer=people["tom"], target=tom)
    assert subject.name == "Account Executives"
    assert resolve_subject(session, config=CFG, viewer=people["olivia"], target=ME).name == (
        "Olivia Hart"
    )
