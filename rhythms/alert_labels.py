"""How a firing alert reads to people: its rule as its message titles it, its subject by
name (the App Home and `/drumbeat alerts` list them alike)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.alert_routing import title as alert_title
from rhythms.blocks import escaped
from rhythms.config import OrgConfig


def rule_label(config: OrgConfig, name: str) -> str:
    """The rule as its alert message titles it ("Calls turned red"); its name when the rule
    is no longer in the config or its metric is unknown."""
    rule = next((r for r in config.alerts if r.name == name), None)
    if rule is not None:
        try:
            return escaped(alert_title(config, rule)[0])
        except KeyError:  # UnknownMetric: a config changed under a firing alert
            pass
    return f"`{name}`"


def subject_names(session: Session, config: OrgConfig, subjects: set[str]) -> dict[str, str]:
    """Display names of alert subjects: "person:12" -> the person's name, "team:sdr" ->
    "SDR team", "org" -> the org's name (escaped for mrkdwn)."""
    ids = {int(s.split(":", 1)[1]) for s in subjects if s.startswith("person:") and s[7:].isdigit()}
    people = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
    names: dict[str, str] = {}
    for subject in subjects:
        kind, _, key = subject.partition(":")
        if kind == "person" and key.isdigit() and int(key) in people:
            names[subject] = escaped(people[int(key)])
        elif kind == "team":
            team = config.team(key)
            names[subject] = escaped(f"{team.name if team else key} team")
        elif subject == "org":
            names[subject] = escaped(config.org.name)
    return names
