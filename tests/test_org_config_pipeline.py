"""`[pipeline] stages`: the ordered deal stages of the review's stage conversion. A bad list
is reported at its path with what is wrong, beside the file's other problems; the commented
example in `examples/drumbeat.toml` is a valid list."""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

import pytest

from metrics.config import STAGE_MAX
from metrics.models import DealStageChange
from rhythms.config import ConfigError, parse_org_config
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE: dict[str, Any] = tomllib.loads(EXAMPLE_CONFIG.read_text())


def _problems(pipeline: Any, **more: Any) -> dict[str, str]:
    data = copy.deepcopy(EXAMPLE)
    data["pipeline"] = pipeline
    data["people"][6].update(more)
    with pytest.raises(ConfigError) as info:
        parse_org_config(data)
    return dict(info.value.problems)


@pytest.mark.parametrize(
    ("stages", "path", "message"),
    [
        (
            "Qualified, Demo",
            "pipeline.stages",
            'must be a list of stage names in funnel order, e.g. ["Qualified", "Demo"]',
        ),
        ({"Demo": 1}, "pipeline.stages", "must be a list of stage names in funnel order"),
        (["Qualified", 3], "pipeline.stages[1]", "must be a stage name in quotes, not 3"),
        (["Qualified", ["Demo"]], "pipeline.stages[1]", "must be a stage name in quotes"),
        (["Qualified", ""], "pipeline.stages[1]", "empty stage name"),
        (["  ", "Demo"], "pipeline.stages[0]", "empty stage name"),
        ([], "pipeline.stages", "list at least one stage, or leave stages out"),
        (
            ["Qualified", "Demo", "Qualified", "Demo", "Qualified"],
            "pipeline.stages",
            "listed more than once: 'Qualified' (stages[0], stages[2], stages[4]); "
            "'Demo' (stages[1], stages[3])",
        ),
        (["Demo", "x" * (STAGE_MAX + 1)], "pipeline.stages[1]", f"longer than {STAGE_MAX}"),
    ],
)
def test_a_bad_stage_list_is_reported_at_its_path(stages: Any, path: str, message: str) -> None:
    problems = _problems({"stages": stages})
    assert set(problems) == {path}
    assert message in problems[path]


def test_a_misspelt_key_or_a_non_table_is_reported() -> None:
    assert _problems({"stage": ["Demo"]}) == {"pipeline.stage": "unknown key (check the spelling)"}
    assert set(_problems(["Demo"])) == {"pipeline"}


def test_a_bad_stage_list_does_not_hide_the_files_other_problems() -> None:
    """The loader keeps the good parts of a bad config (`rhythms.config_salvage`): the stage
    list is dropped, and the cross-checks still report the rest in the same run."""
    problems = _problems({"stages": ["Demo", "Demo"]}, team="sdrr")
    assert problems == {
        "pipeline.stages": "listed more than once: 'Demo' (stages[0], stages[1])",
        "people[6].team": "unknown team 'sdrr'",
    }


def test_a_good_list_keeps_its_order_and_the_default_is_none() -> None:
    data = copy.deepcopy(EXAMPLE)
    assert parse_org_config(data).pipeline.stages is None
    data["pipeline"] = {"stages": ["Qualified", "Closed Won?", "appointmentscheduled", "17"]}
    stages = parse_org_config(data).pipeline.stages
    assert stages == ("Qualified", "Closed Won?", "appointmentscheduled", "17")


def test_the_stage_length_limit_is_the_stored_columns() -> None:
    assert DealStageChange.__table__.c.stage.type.length == STAGE_MAX


def test_the_commented_example_is_a_valid_list() -> None:
    """Uncommented where it stands in `examples/drumbeat.toml`, the example loads."""
    text = EXAMPLE_CONFIG.read_text()
    block = re.search(r"^# \[pipeline\]\n# stages = .*$", text, re.MULTILINE)
    assert block is not None, "examples/drumbeat.toml lost its [pipeline] example"
    uncommented = text.replace(block[0], block[0].replace("# ", "", 2))
    stages = parse_org_config(tomllib.loads(uncommented)).pipeline.stages
    assert stages == ("Qualified", "Demo", "Proposal", "Negotiation")
