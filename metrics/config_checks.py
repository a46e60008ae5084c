"""Cross-reference checks on the metrics part of the org config.

Pydantic validates each field on its own; these look across fields and sections: unknown or
duplicate teams, people and metrics, managers that go round in a circle, CRM mappings that
would give one CRM owner's numbers to two people, and custom metrics the catalog cannot
compute (which would otherwise only fail once the bot syncs or a rhythm runs). Each problem
is a (path, message) pair, the path as written in the file (``people[3].manager``).
"""

from __future__ import annotations

from metrics.catalog import CatalogError, build_catalog
from metrics.config import ROLES, MetricConfig, MetricsConfig, PersonConfig

Problem = tuple[str, str]
_RATIO_SIDES = ("numerator", "denominator")


def metrics_problems(cfg: MetricsConfig, builtin_metrics: frozenset[str]) -> list[Problem]:
    """Every cross-reference problem in `cfg`, in file order within each kind of check."""
    problems = [
        *_team_and_people_problems(cfg),
        *_manager_cycles(cfg),
        *_crm_problems(cfg),
        *_metric_problems(cfg, builtin_metrics),
    ]
    reported = {path for path, _ in problems}
    problems += [p for p in _catalog_problems(cfg) if p[0] not in reported]
    return problems


def _team_and_people_problems(cfg: MetricsConfig) -> list[Problem]:
    problems: list[Problem] = []
    team_keys = [t.key for t in cfg.teams]
    emails = [p.email for p in cfg.people]
    for i, key in enumerate(team_keys):
        if key in team_keys[:i]:
            problems.append((f"teams[{i}].key", f"duplicate team key {key!r}"))
    for i, email in enumerate(emails):
        if email in emails[:i]:
            problems.append((f"people[{i}].email", f"duplicate person {email!r}"))
    known_people = set(emails)
    for i, team in enumerate(cfg.teams):
        if team.manager is not None and team.manager not in known_people:
            problems.append((f"teams[{i}].manager", f"no person with email {team.manager!r}"))
    slack_ids: dict[str, int] = {}
    for i, person in enumerate(cfg.people):
        if person.team is not None and person.team not in team_keys:
            problems.append((f"people[{i}].team", f"unknown team {person.team!r}"))
        if person.role == "rep" and person.team is None:
            problems.append((f"people[{i}].team", "a rep needs a team"))
        if person.manager is not None and person.manager not in known_people:
            problems.append((f"people[{i}].manager", f"no person with email {person.manager!r}"))
        if person.manager == person.email:
            problems.append((f"people[{i}].manager", "a person cannot manage themselves"))
        if person.slack_user_id:
            if person.slack_user_id in slack_ids:
                other = slack_ids[person.slack_user_id]
                problems.append((f"people[{i}].slack_user_id", f"also used by people[{other}]"))
            slack_ids[person.slack_user_id] = i
    return problems


def _manager_cycles(cfg: MetricsConfig) -> list[Problem]:
    """People whose chain of managers comes back to them (A → B → A): escalations would
    never reach someone outside the loop. A person's manager is `manager`, else the team's
    manager (unless that is themselves), as `metrics.directory` links them."""
    team_managers = {t.key: t.manager for t in cfg.teams}

    def boss(person: PersonConfig) -> str | None:
        email = person.manager or (team_managers.get(person.team) if person.team else None)
        return None if email == person.email else email

    bosses = {p.email: boss(p) for p in cfg.people}
    in_a_cycle: set[str] = set()
    problems: list[Problem] = []
    for i, person in enumerate(cfg.people):
        chain = [person.email]
        nxt = bosses.get(person.email)
        while nxt is not None and nxt in bosses and nxt not in chain:
            chain.append(nxt)
            nxt = bosses[nxt]
        if nxt == person.email and person.email not in in_a_cycle:
            in_a_cycle.update(chain)
            field = "manager" if person.manager is not None else "team"
            loop = " → ".join([*chain, person.email])
            problems.append((f"people[{i}].{field}", f"managers go round in a circle: {loop}"))
    return problems


def _crm_problems(cfg: MetricsConfig) -> list[Problem]:
    """CRM mappings that would give one CRM owner (and their numbers) to two people."""
    problems: list[Problem] = []
    owners: dict[tuple[str, str], int] = {}
    for i, person in enumerate(cfg.people):
        for source, owner_id in person.crm_owner_ids.items():
            other = owners.setdefault((source, owner_id), i)
            if other != i:
                problems.append(
                    (
                        f"people[{i}].crm_owner_ids.{source}",
                        f"{source} owner {owner_id!r} is also mapped to people[{other}]",
                    )
                )
    emails: dict[str, int] = {}
    for i, person in enumerate(cfg.people):
        emails.setdefault(person.email, i)
    crm_emails: dict[str, int] = {}
    for i, person in enumerate(cfg.people):
        if person.crm_email is None:
            continue
        email_of = emails.get(person.crm_email, i)
        crm_email_of = crm_emails.setdefault(person.crm_email, i)
        if email_of != i or crm_email_of != i:
            other, what = (email_of, "email") if email_of != i else (crm_email_of, "CRM email")
            problems.append(
                (
                    f"people[{i}].crm_email",
                    f"{person.crm_email!r} is also people[{other}]'s {what}: "
                    "CRM owners with it would map to both",
                )
            )
    return problems


def _metric_problems(cfg: MetricsConfig, builtin_metrics: frozenset[str]) -> list[Problem]:
    problems: list[Problem] = []
    metric_names = [m.name for m in cfg.metrics]
    known_metrics = builtin_metrics | set(metric_names)
    target_keys = set(ROLES) | {t.key for t in cfg.teams}
    for i, metric in enumerate(cfg.metrics):
        path = f"metrics[{i}]"
        if metric.name in metric_names[:i]:
            problems.append((f"{path}.name", f"duplicate metric {metric.name!r}"))
        if metric.source == "builtin" and metric.name not in builtin_metrics:
            problems.append(
                (
                    f"{path}.name",
                    f"{metric.name!r} is not a built-in metric; set source to "
                    "'activities', 'deals' or 'ratio' to define a custom one",
                )
            )
        if metric.source in ("activities", "deals") and metric.kind is None:
            problems.append((f"{path}.kind", "a custom metric needs kind = 'input' or 'output'"))
        if metric.source == "ratio":
            for side in ("numerator", "denominator"):
                ref = getattr(metric, side)
                if ref is None:
                    problems.append((f"{path}.{side}", "required for source = 'ratio'"))
                elif ref not in known_metrics:
                    problems.append((f"{path}.{side}", f"unknown metric {ref!r}"))
        if (
            metric.aggregation in ("sum", "avg")
            and metric.source in ("activities", "deals")
            and metric.value_field is None
        ):
            problems.append(
                (f"{path}.value_field", f"required for aggregation = '{metric.aggregation}'")
            )
        for key in metric.targets:
            if key not in target_keys:
                problems.append(
                    (f"{path}.targets.{key}", "not a role (rep, manager, exec, admin) or team key")
                )
    for i, person in enumerate(cfg.people):
        for name in person.targets:
            if name not in known_metrics:
                problems.append((f"people[{i}].targets.{name}", f"unknown metric {name!r}"))
    return problems


def _catalog_problems(cfg: MetricsConfig) -> list[Problem]:
    """Metrics `build_catalog` refuses (unknown filter fields, a value or date field the
    source lacks, a ratio of a ratio or of a metric defined below it...), at `metrics[i]`.

    The catalog stops at its first bad metric, so metrics are added one at a time and each
    refused one is left out; a ratio of a metric left out that way is not reported again.
    """
    accepted: list[MetricConfig] = []
    left_out: set[str] = set()
    problems: list[Problem] = []
    for i, metric in enumerate(cfg.metrics):
        try:
            build_catalog(cfg.model_copy(update={"metrics": (*accepted, metric)}))
        except CatalogError as exc:
            ref = getattr(metric, exc.field) if exc.field in _RATIO_SIDES else None
            if ref is None or ref not in left_out:
                problems.append((f"metrics[{i}].{exc.field}", str(exc)))
            left_out.add(metric.name)
            continue
        accepted.append(metric)
    return problems
