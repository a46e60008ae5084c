"""The benchmark harness stays runnable: every registered scenario imports and exposes `run`,
and the table renderers keep every figure. No timing here (figures live in bench/RESULTS.md)."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import main
from bench.common import SCENARIOS, Result, load, markdown, table


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(SCENARIOS[name])
    assert callable(load(name))
    assert module.run is load(name)


def test_tables_show_every_figure_and_mark_misses() -> None:
    results = [
        Result("s", "hit", 12.5, "ms", "< 15 ms", True),
        Result("s", "miss | piped", 1234.5, "msg/s", ">= 1,500 msg/s", False, "why"),
        Result("s", "info", 3.0, "MB"),
    ]
    text = table(results)
    assert "12.500 ms" in text and "1,234.500 msg/s" in text and "NO" in text
    md = markdown(results).splitlines()
    assert len(md) == 2 + len(results)
    assert "**NO**" in md[3] and "miss \\| piped" in md[3]
    assert md[2].endswith("| yes |  |")


def test_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no_such_scenario"])
    assert exc.value.code == 2
    assert "unknown scenario" in capsys.readouterr().err
