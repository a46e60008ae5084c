"""Org config inputs that used to pass `check-config` and break the bot later: each is now
reported with its path in the file. Every case edits `examples/drumbeat.toml`."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import CRM_SOURCES
from metrics.crm.csv_source import CsvConnector
from metrics.crm.demo import DemoConnector
from metrics.crm.hubspot import HubSpotConnector
from metrics.crm.pipedrive import PipedriveConnector
from metrics.crm.salesforce import SalesforceConnector
from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import RHYTHM_KINDS, ConfigError, load_org_config, parse_org_config
from rhythms.rhythm_options import OPTIONS_BY_KIND
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE: dict[str, Any] = tomllib.loads(EXAMPLE_CONFIG.read_text())
DEMOS_HELD = 8  # metrics[8] in the example: a custom activities count
Edit = Callable[[dict[str, Any]], None]


def _problems(edit: Edit) -> dict[str, str]:
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    with pytest.raises(ConfigError) as info:
        parse_org_config(data)
    return dict(info.value.problems)


def _custom(**fields: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["metrics"][DEMOS_HELD].update(fields)

    return edit


def _append_metrics(*metrics: dict[str, Any]) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["metrics"] += list(metrics)

    return edit


COUNT = {"source": "activities", "kind": "input"}


# 1. custom metrics the catalog cannot compute ---------------------------------------------
@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (_custom(filter={"kynd": "meeting"}), "metrics[8].filter.kynd", "'kynd'"),
        (
            _custom(filter={"subjekt_contains": "demo"}),
            "metrics[8].filter.subjekt_contains",
            "'subjekt'",
        ),
        (
            _custom(aggregation="sum", value_field="amount"),
            "metrics[8].value_field",
            "duration_seconds",
        ),
        (_custom(date_field="closed_at"), "metrics[8].date_field", "occurred_at"),
        (
            _append_metrics(
                {"name": "later_rate", "source": "ratio", "numerator": "later"}
                | {"denominator": "calls"},
                {"name": "later", **COUNT},
            ),
            "metrics[9].numerator",
            "defined above it",
        ),
        (
            _append_metrics(
                {"name": "r", "source": "ratio", "numerator": "r"} | {"denominator": "calls"}
            ),
            "metrics[9].numerator",
            "itself",
        ),
        (
            _append_metrics(
                {"name": "r", "source": "ratio", "numerator": "calls", "denominator": "win_rate"}
            ),
            "metrics[9].denominator",
            "not a ratio",
        ),
        (
            _append_metrics(
                {"name": "a" * 59, "source": "deals", "kind": "output"}
                | {"aggregation": "sum", "value_field": "amount"}
            ),
            "metrics[9].name",
            "too long",
        ),
    ],
)
def test_metrics_the_catalog_refuses_are_config_errors(
    edit: Edit, path: str, fragment: str
) -> None:
    problems = _problems(edit)
    assert fragment in problems[path]


def test_every_refused_metric_is_reported_and_ratios_of_them_only_once() -> None:
    problems = _problems(
        _append_metrics(
            {"name": "bad_one", **COUNT, "filter": {"kynd": "call"}},
            {"name": "bad_two", **COUNT, "date_field": "closed_at"},
            {"name": "of_bad", "source": "ratio", "numerator": "bad_one", "denominator": "calls"},
        )
    )
    assert set(problems) == {"metrics[9].filter.kynd", "metrics[10].date_field"}


# 2. numbers that overflow or cannot mean what they say ------------------------------------
def _target(value: float) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["metrics"][0]["targets"]["sdr"]["daily"] = value

    return edit


def _alert(index: int, **fields: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["alerts"][index].update(fields)

    return edit


def _org(**fields: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["org"].update(fields)

    return edit


@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (_target(float("inf")), "metrics[0].targets.sdr.daily", "finite"),
        (_target(float("nan")), "metrics[0].targets.sdr.daily", "finite"),
        (_target(1e300), "metrics[0].targets.sdr.daily", "<= 1e+12"),
        (_org(status_green_at=float("inf")), "org.status_green_at", "finite"),
        (_org(status_green_at=1000.0), "org.status_green_at", "<= 10"),
        (_alert(3, value=float("inf")), "alerts[3].value", "finite"),
        (_alert(3, value=-1.0), "alerts[3].value", ">= 0"),
        (_alert(1, value=60), "alerts[1].value", "0.6 means 60%"),  # below_pace_pct
        (_alert(2, value=1.0), "alerts[2].value", "0.3 means 30%"),  # drop_vs_trailing_pct
    ],
)
def test_absurd_numbers_are_refused(edit: Edit, path: str, fragment: str) -> None:
    assert fragment in _problems(edit)[path]


def test_fractions_at_their_limits_and_large_multiples_pass() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["alerts"][1]["value"] = 1.0  # below 100% of pace
    data["alerts"][3]["value"] = 12.0  # coverage below 12x
    data["metrics"][5]["targets"]["ae"]["monthly"] = 1e12
    cfg = parse_org_config(data)
    assert [cfg.alerts[1].value, cfg.alerts[3].value] == [1.0, 12.0]


# 3. rhythm options --------------------------------------------------------------------------
def _options(rhythm: str, **options: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["rhythms"][rhythm].setdefault("options", {}).update(options)

    return edit


@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (_options("maple", deadline="moon 99:99"), "rhythms.maple.options.deadline", "DAY HH:MM"),
        (_options("maple", deadline=""), "rhythms.maple.options.deadline", "DAY HH:MM"),
        (
            _options("maple", reminders=["mon 25:00"]),
            "rhythms.maple.options.reminders[0]",
            "DAY HH:MM",
        ),
        (_options("maple", digest_to=["ceo"]), "rhythms.maple.options.digest_to[0]", "'cro'"),
        (
            _options("maple", emergency_reraise_minutes=-5),
            "rhythms.maple.options.emergency_reraise_minutes",
            ">= 1",
        ),
        (_options("maple", hints={"advnced": "x"}), "rhythms.maple.options.hints", "advanced"),
        (
            _options("daily_scoreboard", dya="today"),
            "rhythms.daily_scoreboard.options.dya",
            "did you mean 'day'?",
        ),
        (
            _options("daily_scoreboard", day="tomorrow"),
            "rhythms.daily_scoreboard.options.day",
            "'yesterday'",
        ),
        (
            _options("daily_scoreboard", per_rep_charts="nope"),
            "rhythms.daily_scoreboard.options.per_rep_charts",
            "boolean",
        ),
        (
            _options("monthly_review", channel="#x"),
            "rhythms.monthly_review.options.channel",
            "monthly_review options: none",
        ),
    ],
)
def test_rhythm_options_are_checked_per_kind(edit: Edit, path: str, fragment: str) -> None:
    assert fragment in _problems(edit)[path]


def test_every_rhythm_kind_has_an_options_model_and_the_examples_pass() -> None:
    assert set(OPTIONS_BY_KIND) == set(RHYTHM_KINDS)
    data = copy.deepcopy(EXAMPLE)
    _options("maple", max_reminders=1, hints={"advanced": "Deals that moved"})(data)
    _options("maple", digest_to=["cro", "#sales-leaders", "C024BE91L"])(data)
    cfg = parse_org_config(data)
    assert cfg.rhythms["maple"].options["max_reminders"] == 1


# 5. emails compare in lowercase ---------------------------------------------------------
def test_manager_and_scope_emails_are_lowercased(session: Session) -> None:
    data = copy.deepcopy(EXAMPLE)
    data["teams"][0]["manager"] = "Maria.Gonzalez@ACME.example"
    data["alerts"][0]["scope"] = {"level": "person", "people": ["Dana.Ruiz@acme.example"]}
    data["rhythms"]["maple"]["audience"] = {"people": ["Tom.Becker@acme.example"]}
    cfg = parse_org_config(data)
    assert cfg.teams[0].manager == "maria.gonzalez@acme.example"
    assert cfg.alerts[0].scope.people == ("dana.ruiz@acme.example",)
    assert cfg.rhythms["maple"].audience.people == ("tom.becker@acme.example",)
    apply_directory(session, cfg, today=dt.date(2026, 11, 23))
    people = {p.email: p for p in session.scalars(select(Person))}
    assert people["dana.ruiz@acme.example"].manager_id == people["maria.gonzalez@acme.example"].id


# 6. CRM mappings ------------------------------------------------------------------------
def _person(index: int, **fields: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["people"][index].update(fields)

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for one in edits:
            one(data)

    return edit


@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (
            _both(
                _person(5, crm_owner_ids={"hubspot": "1"}),
                _person(6, crm_owner_ids={"hubspot": "1"}),
            ),
            "people[6].crm_owner_ids.hubspot",
            "also mapped to people[5]",
        ),
        (
            _person(6, crm_email="Dana.Ruiz@acme.example"),
            "people[6].crm_email",
            "people[5]'s email",
        ),
        (
            _both(_person(5, crm_email="x@crm.example"), _person(6, crm_email="x@crm.example")),
            "people[6].crm_email",
            "people[5]'s CRM email",
        ),
        (_person(6, crm_owner_ids={"hubspt": "1"}), "people[6].crm_owner_ids", "'hubspt'"),
        (_person(6, crm_email="not an email"), "people[6].crm_email", "not an email address"),
    ],
)
def test_crm_mapping_collisions_and_typos(edit: Edit, path: str, fragment: str) -> None:
    assert fragment in _problems(edit)[path]


def test_crm_sources_are_the_connectors() -> None:
    connectors = (DemoConnector, CsvConnector, HubSpotConnector, SalesforceConnector)
    assert set(CRM_SOURCES) == {c.source for c in (*connectors, PipedriveConnector)}


# 7. one run lists field errors and cross-reference errors -------------------------------
def test_cross_reference_checks_run_beside_field_errors() -> None:
    problems = _problems(_both(_target(-60), _person(6, team="sdrr")))
    assert problems == {
        "metrics[0].targets.sdr.daily": "must be >= 0.0",
        "people[6].team": "unknown team 'sdrr'",
    }


def test_entries_left_out_keep_later_paths_and_raise_no_echoes() -> None:
    # people[2] is the SDR manager: left out for its time zone, it is not also "unknown"
    # as teams[0].manager, and people[6] keeps its place in the file.
    problems = _problems(_both(_person(2, timezone="Mars/Olympus"), _person(6, team="sdrr")))
    assert set(problems) == {"people[2].timezone", "people[6].team"}
    problems = _problems(_both(_person(0, role="cro"), _person(6, team="sdrr")))
    assert set(problems) == {"people[0].role", "people[6].team"}  # no "nobody is exec"


# 8. smaller checks ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (
            _both(
                _person(5, manager="leo.martin@acme.example"),
                _person(6, manager="dana.ruiz@acme.example"),
            ),
            "people[5].manager",
            "circle",
        ),
        (
            _alert(0, scope={"level": "person", "people": ["ghost@acme.example"]}),
            "alerts[0].scope.people[0]",
            "no person",
        ),
        (_alert(2, route=["channel:"]), "alerts[2].route", "names no channel"),
        (_options("control_tower", x=1), "rhythms.control_tower.options.x", "unknown option"),
        (
            lambda data: data["rhythms"]["control_tower"].update(enabled="off"),
            "rhythms.control_tower.enabled",
            "boolean",
        ),
        (_org(transparent_scoreboards="yes"), "org.transparent_scoreboards", "boolean"),
        (_alert(0, group=1), "alerts[0].group", "boolean"),
        (
            lambda data: data["calendar"].update(subdivision="ZZ"),
            "calendar.subdivision",
            "'ZZ'",
        ),
    ],
)
def test_smaller_checks(edit: Edit, path: str, fragment: str) -> None:
    assert fragment in _problems(edit)[path]


def test_a_known_subdivision_passes() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["calendar"]["subdivision"] = "CA"
    assert parse_org_config(data).calendar.subdivision == "CA"


def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "drumbeat.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_CONFIG.read_bytes())
    assert load_org_config(path).org.name == "Acme Cloud"
