"""`drumbeat check-config` warns about rhythms and alert rules that can never do anything
(`rhythms.config_warnings`): an alert routed only to a manager nobody can be, MAPLE reminders
after the deadline, pace conditions on a metric with no targets, `coverage_below` on another
metric. Warnings, not errors: the file loads and check-config exits 0. The shipped example
has none."""

from __future__ import annotations

import copy
import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.cli.check_config import config_warnings
from rhythms.config import parse_org_config
from rhythms.config_warnings import rhythm_warnings
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE: dict[str, Any] = tomllib.loads(EXAMPLE_CONFIG.read_text())
NOW = dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)  # a Wednesday


def _alert(name: str) -> int:
    return next(i for i, rule in enumerate(EXAMPLE["alerts"]) if rule["name"] == name)


def _warnings(edit: Any) -> list[str]:
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    return config_warnings(parse_org_config(data))


def _only(warnings: list[str], prefix: str) -> str:
    found = [w for w in warnings if w.startswith(prefix)]
    assert len(found) == 1, warnings
    return found[0]


def test_the_example_as_shipped_has_no_warnings() -> None:
    assert config_warnings(parse_org_config(copy.deepcopy(EXAMPLE))) == []


def test_manager_only_alert_for_a_team_without_a_manager() -> None:
    i = _alert("sdr-no-calls-by-11")  # person-level, sdr reps, route = ["manager"]

    def no_manager(data: dict[str, Any]) -> None:
        del data["teams"][0]["manager"]  # sdr

    warning = _only(_warnings(no_manager), f"alerts[{i}] (sdr-no-calls-by-11).route:")
    assert "team 'sdr' has no manager" in warning
    assert "add 'cro' or a channel to route" in warning


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"active": False}, ", who is inactive"),
        ({"role": "admin"}, " with role 'admin' (not manager or exec)"),
    ],
)
def test_manager_only_alert_for_a_team_whose_manager_cannot_take_it(
    change: dict[str, Any], why: str
) -> None:
    i = _alert("sdr-no-calls-by-11")

    def edit(data: dict[str, Any]) -> None:
        maria = next(p for p in data["people"] if p["email"].startswith("maria."))
        maria.update(change)

    warning = _only(_warnings(edit), f"alerts[{i}] (sdr-no-calls-by-11).route:")
    assert f"team 'sdr' has manager 'maria.gonzalez@acme.example'{why}," in warning


def test_manager_only_team_and_org_rules() -> None:
    i = _alert("team-behind-call-pace")  # team-level, all teams, route = ["cro", "manager"]

    def team_level(data: dict[str, Any]) -> None:
        data["alerts"][i]["route"] = ["manager"]
        del data["teams"][2]["manager"]  # cs

    warnings = _warnings(team_level)
    warning = _only(warnings, f"alerts[{i}] (team-behind-call-pace).route:")
    assert "team 'cs' has no manager" in warning

    def org_level(data: dict[str, Any]) -> None:
        data["alerts"][i]["route"] = ["manager"]
        data["alerts"][i]["scope"] = {"level": "org"}

    warning = _only(_warnings(org_level), f"alerts[{i}] (team-behind-call-pace).route:")
    assert "an org-level rule has no manager" in warning


def test_maple_reminder_after_the_deadline() -> None:
    def late(data: dict[str, Any]) -> None:
        data["rhythms"]["maple"]["options"]["reminders"] = ["mon 09:00", "mon 13:00"]

    data = copy.deepcopy(EXAMPLE)
    late(data)
    assert rhythm_warnings(parse_org_config(data), NOW) == [
        "rhythms.maple.options.reminders[1]: reminder 'mon 13:00' comes at or after the "
        "deadline 'mon 12:00', so it is never sent — move it before the deadline or drop it"
    ]
    assert any(w.startswith("rhythms.maple.options.reminders[1]:") for w in _warnings(late))

    def early(data: dict[str, Any]) -> None:  # Friday's prompt at 14:00, reminder at 16:00
        data["rhythms"]["maple"]["options"]["reminders"] = ["fri 16:00", "mon 11:59"]

    assert _warnings(early) == []


@pytest.mark.parametrize("condition", ["below_pace_pct", "turns_red"])
def test_pace_condition_on_a_metric_nobody_in_scope_has_targets_for(condition: str) -> None:
    i = _alert("rep-red-streak")  # person-level, every rep, calls

    def no_targets(data: dict[str, Any]) -> None:
        rule = data["alerts"][i]
        rule.update(condition=condition, metric="connected_calls")  # sdr targets only
        rule["scope"] = {"level": "person", "teams": ["ae", "cs"]}
        if condition == "below_pace_pct":
            rule["value"] = 0.6

    warning = _only(_warnings(no_targets), f"alerts[{i}] (rep-red-streak).metric:")
    assert "nobody in the rule's scope has a target for 'connected_calls'" in warning
    assert f"{condition!r} has no pace to compare with and never fires" in warning

    def sdr_too(data: dict[str, Any]) -> None:
        no_targets(data)
        data["alerts"][i]["scope"]["teams"] = ["ae", "sdr"]

    assert _warnings(sdr_too) == []


def test_coverage_below_on_another_metric() -> None:
    i = _alert("ae-coverage")

    def on_bookings(data: dict[str, Any]) -> None:
        data["alerts"][i]["metric"] = "bookings"

    warning = _only(_warnings(on_bookings), f"alerts[{i}] (ae-coverage).condition:")
    assert "'coverage_below' on 'bookings'" in warning
    assert "use condition 'below'" in warning


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DRUMBEAT_", "SLACK_")):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_env")
def test_check_config_prints_the_warning_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "drumbeat.toml"
    path.write_text(
        EXAMPLE_CONFIG.read_text().replace(
            'reminders = ["mon 09:00", "mon 11:00"]', 'reminders = ["mon 09:00", "mon 13:00"]'
        )
    )
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: rhythms.maple.options.reminders[1]: reminder 'mon 13:00'" in out
    assert "never sent" in out
