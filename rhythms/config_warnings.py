"""What `drumbeat check-config` warns about in rhythms and alert rules: valid, but a rule or
a rhythm that can never do anything. Warnings, not errors: the file still loads.

- an alert routed only to `manager` whose scope has a team (or a person) with no manager to
  reach (`rhythms.alert_routing.managers`): none configured, not a person in the file, not
  role manager/exec, or inactive; an org-level rule never has a manager at all;
- a MAPLE reminder (`options.reminders`) at or after the week's deadline (`options.deadline`):
  `rhythms.maple_rhythm` never sends a reminder once the deadline has passed;
- `below_pace_pct` / `turns_red` on a metric nobody in the scope has a target for
  (`metrics.targets.resolve_target`): there is no pace, so it never fires;
- `coverage_below` on a metric other than pipeline coverage: it compares the metric's value
  but every firing says "Pipeline coverage below N×".
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from metrics.catalog import PIPELINE_COVERAGE
from metrics.config import PersonConfig
from metrics.lookup import catalog_for
from metrics.targets import PERIODS, resolve_target
from rhythms.config import AlertRuleConfig, OrgConfig, RhythmConfig

MANAGER_ROLES = ("manager", "exec")
PACE_CONDITIONS = ("below_pace_pct", "turns_red")


def rhythm_warnings(cfg: OrgConfig, now: dt.datetime | None = None) -> list[str]:
    """Every rhythm and alert warning, each as 'path: what is wrong — what to do'."""
    warnings: list[str] = []
    for name, rhythm in cfg.rhythms.items():
        if cfg.rhythm_kind(name) == "maple":
            warnings += _maple_warnings(cfg, name, rhythm, now or dt.datetime.now(dt.UTC))
    for i, rule in enumerate(cfg.alerts):
        path = f"alerts[{i}] ({rule.name})"
        warnings += _routing_warnings(cfg, rule, path)
        warnings += _condition_warnings(cfg, rule, path)
    return warnings


def _maple_warnings(cfg: OrgConfig, name: str, rhythm: RhythmConfig, now: dt.datetime) -> list[str]:
    """Reminders placed as `rhythms.maple_rhythm` places them: the first such time after the
    week's prompt, against the deadline (org zone; a recipient far from it may differ by a
    few hours)."""
    from rhythms.maple import week_key
    from rhythms.maple_rhythm import deadline_at, next_at, prompt_time, reminder_specs

    specs = reminder_specs(rhythm)
    zone = cfg.org.timezone
    week = week_key(now.astimezone(ZoneInfo(zone)).date())
    prompt = prompt_time(rhythm, week, zone)
    deadline = deadline_at(rhythm, week, zone)
    deadline_spec = str(rhythm.options.get("deadline") or "mon 12:00")
    out = []
    for j, spec in enumerate(specs):
        if next_at(prompt, spec) >= deadline:
            out.append(
                f"rhythms.{name}.options.reminders[{j}]: reminder {spec!r} comes at or after "
                f"the deadline {deadline_spec!r}, so it is never sent — move it before the "
                "deadline or drop it"
            )
    return out


def _in_scope(cfg: OrgConfig, rule: AlertRuleConfig) -> list[PersonConfig]:
    """The active people the rule looks at, as `rhythms.alert_rules.subjects_for` picks them
    (a person-level rule: its subjects; a team or org: the members whose targets add up)."""
    scope = rule.scope
    roles = set(scope.roles) or {"rep"}
    teams = set(scope.teams)
    emails = {e.lower() for e in scope.people}
    people = [p for p in cfg.people if p.active]
    if scope.level == "person":
        return [
            p
            for p in people
            if p.email.lower() in emails
            or (not emails and p.role in roles and (not teams or p.team in teams))
        ]
    if scope.level == "team":
        return [p for p in people if p.role in roles and p.team and (not teams or p.team in teams)]
    return [p for p in people if p.role in roles]


def _manager_problem(cfg: OrgConfig, email: str | None) -> str | None:
    """Why `email` cannot take a manager's alert, or None when it can."""
    if not email:
        return "has no manager"
    manager = cfg.person(email)
    if manager is None:
        return f"has manager {email!r}, who is not in [[people]]"
    if manager.role not in MANAGER_ROLES:
        return f"has manager {email!r} with role {manager.role!r} (not manager or exec)"
    if not manager.active:
        return f"has manager {email!r}, who is inactive"
    return None


def _routing_warnings(cfg: OrgConfig, rule: AlertRuleConfig, path: str) -> list[str]:
    """A rule routed only to `manager` (escalation to the CRO would reach someone)."""
    if set(rule.route) != {"manager"} or rule.escalate_after_red_days is not None:
        return []
    fix = "set [[teams]].manager to an active manager, or add 'cro' or a channel to route"
    if rule.scope.level == "org":
        return [
            f"{path}.route: an org-level rule has no manager, so route ['manager'] sends it "
            "to nobody — route it to 'cro' or a channel"
        ]
    problems: dict[str, str] = {}  # team (or person) → why
    if rule.scope.level == "team":
        for team in cfg.teams:
            if rule.scope.teams and team.key not in rule.scope.teams:
                continue
            why = _manager_problem(cfg, team.manager)
            if why is not None:
                problems[f"team {team.key!r}"] = why
    else:
        team_managers = {t.key: t.manager for t in cfg.teams}
        for p in _in_scope(cfg, rule):
            email = p.manager or (team_managers.get(p.team) if p.team else None)
            own = email == p.email  # the team's manager in scope: nobody above them
            why = _manager_problem(cfg, None if own else email)
            if why is not None:
                by_team = p.team and not p.manager and not own
                who = f"team {p.team!r}" if by_team else f"person {p.email!r}"
                problems.setdefault(who, why)
    return [
        f"{path}.route: {who} {why}, so this rule, routed only to 'manager', alerts nobody "
        f"for it — {fix}"
        for who, why in problems.items()
    ]


def _condition_warnings(cfg: OrgConfig, rule: AlertRuleConfig, path: str) -> list[str]:
    if rule.condition == "coverage_below":
        if catalog_for(cfg).get(rule.metric).special != PIPELINE_COVERAGE:
            return [
                f"{path}.condition: 'coverage_below' on {rule.metric!r} compares its value "
                "but says 'Pipeline coverage below N×' — use condition 'below' for "
                f"{rule.metric!r}, or metric 'pipeline_coverage'"
            ]
        return []
    if rule.condition not in PACE_CONDITIONS:
        return []
    for p in _in_scope(cfg, rule):
        for period in PERIODS:
            kw = {"email": p.email, "role": p.role, "team": p.team}
            if resolve_target(cfg, rule.metric, period, **kw) is not None:
                return []
    return [
        f"{path}.metric: nobody in the rule's scope has a target for {rule.metric!r}, so "
        f"{rule.condition!r} has no pace to compare with and never fires — add "
        f"[[metrics]] targets for {rule.metric!r} or use a condition like 'below'"
    ]
