"""Who a query that names no one is about (`/metric calls`): what the asker leads.

A rep (and anyone who said `me`) gets their own numbers; an exec or admin the org's; a
manager the team they lead (`permissions.covered_teams`: the teams whose `manager` they
are, else their own, else — a director with no team — their reports' teams). A manager of
several teams is asked which (there is no number for "two teams" to answer with); one with
no team at all gets their own numbers.
"""

from __future__ import annotations

from metrics.config import MetricsConfig
from metrics.models import Person
from rhythms.metric_query import QueryError, Target
from rhythms.permissions import covered_teams, sees_everything


def default_target(target: Target, viewer: Person | None, config: MetricsConfig) -> Target:
    """`target`, unless it names no one (`Target("self")`) and `viewer` leads something:
    then what they lead. QueryError for a manager of several teams, naming them."""
    if target != Target("self") or viewer is None:
        return target
    if sees_everything(viewer):
        return Target("org")
    if viewer.role != "manager":
        return target
    teams = covered_teams(config, viewer.email, viewer.team_key)
    if len(teams) == 1:
        return Target("team", teams[0])
    if not teams:
        return target
    named = [f"{getattr(config.team(k), 'name', k)} (`{k}`)" for k in teams]
    listed = ", ".join(named[:-1]) + " and " + named[-1]
    raise QueryError(
        f"You lead {listed}: which one? Add its key, `org` for everyone or `me` for you."
    )
