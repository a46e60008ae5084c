"""The demo org: a deterministic SDR/AE/CS revenue org of any size, and its drumbeat.toml.

`build_org(reps, seed=...)` lays out teams of about eight reps (40% SDR, 40% AE, 20% CS),
a manager per team, one exec (the CRO) and one RevOps admin, spread over six time zones.
Each rep has a performance factor (some ahead of target, some behind) and a trend.
`org_toml(org)` renders the org config (teams, people, metrics with targets that match the
generated volumes, rhythms, alerts) as TOML text; parse it with `rhythms.config` upstairs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from metrics.config import MetricsConfig

FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Isla",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xena",
    "Yusuf",
    "Zoe",
    "Aiden",
    "Bianca",
    "Carlos",
    "Dana",
    "Emil",
    "Fatima",
    "Gabe",
    "Hana",
    "Ivan",
    "Jada",
    "Kai",
    "Luca",
    "Mila",
    "Noah",
]
LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Meyer",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Young",
    "Zimmer",
    "Becker",
    "Costa",
    "Dubois",
    "Ericsson",
    "Fox",
    "Gupta",
    "Hughes",
    "Ivanova",
    "Jones",
    "Kim",
    "Larsen",
    "Moreau",
    "Nair",
    "Ortiz",
]
REGIONS: tuple[tuple[str, str], ...] = (
    ("America/New_York", "USD"),
    ("America/Chicago", "USD"),
    ("America/Los_Angeles", "USD"),
    ("Europe/London", "GBP"),
    ("America/Denver", "USD"),
    ("Europe/Berlin", "EUR"),
)
TEAM_SIZE = 8
FUNCTIONS = ("sdr", "ae", "cs")
TEAM_NAMES = {"sdr": "SDR", "ae": "Account Executives", "cs": "Customer Success"}


@dataclass(frozen=True)
class DemoPerson:
    index: int
    email: str
    name: str
    role: str  # rep | manager | exec | admin
    team: str | None
    function: str | None  # sdr | ae | cs for reps and managers
    timezone: str
    currency: str
    performance: float  # 1.0 = on target; 0.7 behind, 1.3 ahead
    trend: float  # relative change of performance over the history, e.g. -0.15

    @property
    def owner_id(self) -> str:
        return f"u{self.index}"


@dataclass(frozen=True)
class DemoTeam:
    key: str
    name: str
    function: str
    manager: str
    timezone: str


@dataclass(frozen=True)
class DemoOrg:
    name: str
    domain: str
    seed: int
    teams: tuple[DemoTeam, ...]
    people: tuple[DemoPerson, ...]

    @property
    def reps(self) -> tuple[DemoPerson, ...]:
        return tuple(p for p in self.people if p.role == "rep")

    @property
    def crm_people(self) -> tuple[DemoPerson, ...]:
        """People who own records in the CRM: reps and managers."""
        return tuple(p for p in self.people if p.role in ("rep", "manager"))


def build_org(
    reps: int, *, seed: int = 7, name: str = "Northwind Cloud", domain: str = "northwind.example"
) -> DemoOrg:
    if reps < 1:
        raise ValueError("a demo org needs at least one rep")
    rng = random.Random(f"org:{seed}:{reps}")
    counts = _split(reps)
    people: list[DemoPerson] = []
    teams: list[DemoTeam] = []
    used: set[str] = set()

    def person(role: str, team: str | None, function: str | None, region: int) -> DemoPerson:
        index = len(people)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".lower()
        if local in used:
            local = f"{local}{index}"
        used.add(local)
        zone, currency = REGIONS[region % len(REGIONS)]
        if role == "rep" and rng.random() < 0.2:  # some reps live a zone away from the team
            zone = REGIONS[(region + 1) % len(REGIONS)][0]
        perf = min(max(rng.lognormvariate(0.0, 0.25), 0.45), 1.7) if role == "rep" else 1.0
        new = DemoPerson(
            index=index,
            email=f"{local}@{domain}",
            name=f"{first} {last}",
            role=role,
            team=team,
            function=function,
            timezone=zone,
            currency=currency,
            performance=round(perf, 3),
            trend=round(rng.uniform(-0.2, 0.2), 3) if role == "rep" else 0.0,
        )
        people.append(new)
        return new

    person("exec", None, None, 0)
    person("admin", None, None, 0)
    region = 0
    for function in FUNCTIONS:
        count = counts[function]
        n_teams = math.ceil(count / TEAM_SIZE) if count else 0
        for t in range(n_teams):
            key = f"{function}_{t + 1}" if n_teams > 1 else function
            size = count // n_teams + (1 if t < count % n_teams else 0)
            manager = person("manager", key, function, region)
            label = TEAM_NAMES[function] + (f" {t + 1}" if n_teams > 1 else "")
            teams.append(DemoTeam(key, label, function, manager.email, REGIONS[region][0]))
            for _ in range(size):
                person("rep", key, function, region)
            region = (region + 1) % len(REGIONS)
    return DemoOrg(name, domain, seed, tuple(teams), tuple(people))


def org_from_config(cfg: MetricsConfig, *, seed: int = 7) -> DemoOrg:
    """A demo org for the people already in an org config (so `drumbeat sync --source demo`
    fills any config with plausible data). Owners use `crm_email` when set."""
    rng = random.Random(f"cfg:{seed}")
    functions = {t.key: t.function for t in cfg.teams}
    people = []
    for index, p in enumerate(cfg.people):
        function = functions.get(p.team or "")
        people.append(
            DemoPerson(
                index=index,
                email=p.crm_email or p.email,
                name=p.name,
                role=p.role,
                team=p.team,
                function=function if function in FUNCTIONS else ("ae" if p.team else None),
                timezone=p.timezone or cfg.org.timezone,
                currency=cfg.currency.reporting,
                performance=round(min(max(rng.lognormvariate(0.0, 0.25), 0.45), 1.7), 3)
                if p.role == "rep"
                else 1.0,
                trend=round(rng.uniform(-0.2, 0.2), 3) if p.role == "rep" else 0.0,
            )
        )
    teams = tuple(
        DemoTeam(t.key, t.name, t.function, t.manager or "", cfg.org.timezone) for t in cfg.teams
    )
    domain = cfg.people[0].email.split("@")[1] if cfg.people else "example.com"
    return DemoOrg(cfg.org.name, domain, seed, teams, tuple(people))


def _split(reps: int) -> dict[str, int]:
    if reps < 3:
        return {"sdr": reps, "ae": 0, "cs": 0} if reps == 1 else {"sdr": 1, "ae": 1, "cs": 0}
    sdr, ae = max(1, round(reps * 0.4)), max(1, round(reps * 0.4))
    return {"sdr": sdr, "ae": ae, "cs": max(1, reps - sdr - ae)}


# Targets per function that match the generator's mean volumes (see demo.VOLUMES).
TARGETS: dict[str, dict[str, tuple[float | None, float | None, float | None]]] = {
    "calls": {"sdr": (6.5, 32.5, 130), "ae": (2.2, 11, 44), "cs": (1.6, 8, 32)},
    "connected_calls": {"sdr": (1.1, 5.5, 22)},
    "emails": {"sdr": (3.5, 17.5, 70), "ae": (2.2, 11, 44), "cs": (1.9, 9.5, 38)},
    "meetings_booked": {"sdr": (0.9, 4.5, 18), "ae": (0.6, 3, 12), "cs": (0.45, 2.25, 9)},
    "opportunities_created": {"ae": (0.5, 2.5, 10)},
    "pipeline_created": {"ae": (None, 70000, 280000)},
    "bookings": {"ae": (None, None, 60000), "cs": (None, None, 40000)},
}


def org_toml(org: DemoOrg) -> str:
    """The org config for `org` as drumbeat.toml text."""
    q = _quote
    out = [
        f"# Demo org generated by metrics.crm.demo_org (seed {org.seed}, {len(org.reps)} reps).",
        "[org]",
        f"name = {q(org.name)}",
        'timezone = "America/New_York"',
        "",
        "[calendar]",
        'country = "US"',
        'working_days = ["mon", "tue", "wed", "thu", "fri"]',
        "",
        "[currency]",
        'reporting = "USD"',
        "rates = { EUR = 1.08, GBP = 1.27 }",
        "",
        "[slack]",
        'admin_channel = "#revops-drumbeat"',
        'leadership_channel = "#sales-leaders"',
        "",
    ]
    for team in org.teams:
        out += [
            "[[teams]]",
            f"key = {q(team.key)}",
            f"name = {q(team.name)}",
            f"function = {q(team.function)}",
            f"manager = {q(team.manager)}",
            f"channel = {q('#team-' + team.key.replace('_', '-'))}",
            "",
        ]
    for p in org.people:
        out += ["[[people]]", f"email = {q(p.email)}", f"name = {q(p.name)}", f"role = {q(p.role)}"]
        if p.team:
            out.append(f"team = {q(p.team)}")
        out += [f"timezone = {q(p.timezone)}", ""]
    for metric, by_team in TARGETS.items():
        out += ["[[metrics]]", f"name = {q(metric)}", "[metrics.targets]"]
        for team in org.teams:
            numbers = by_team.get(team.function)
            if numbers:
                parts = [
                    f"{period} = {value:g}"
                    for period, value in zip(("daily", "weekly", "monthly"), numbers, strict=True)
                    if value is not None
                ]
                out.append(f"{team.key} = {{ {', '.join(parts)} }}")
        out.append("")
    out += ["[[metrics]]", 'name = "win_rate"', "", _RHYTHMS]
    return "\n".join(out)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_RHYTHMS = """[rhythms.daily_scoreboard]
schedule = "30 17 * * mon-fri"
audience = { roles = ["rep"] }

[rhythms.team_scoreboard]
schedule = "45 17 * * mon-fri"
audience = { roles = ["manager"] }

[rhythms.maple]
schedule = "0 14 * * fri"
audience = { roles = ["manager"] }

[rhythms.control_tower]
schedule = "30 8 * * mon-fri"
timezone = "America/New_York"
audience = { roles = ["exec"] }

[rhythms.monthly_review]
schedule = "0 9 1-7 * mon-fri"
timezone = "America/New_York"
channel = "#sales-leaders"

[rhythms.alerts]
schedule = "*/30 9-18 * * mon-fri"

[[alerts]]
name = "team-behind-call-pace"
metric = "calls"
scope = { level = "team" }
condition = "below_pace_pct"
value = 0.6
severity = "critical"
route = ["cro", "manager"]

[[alerts]]
name = "rep-red-streak"
metric = "calls"
scope = { level = "person", roles = ["rep"] }
condition = "turns_red"
escalate_after_red_days = 3
route = ["person", "manager"]
"""
