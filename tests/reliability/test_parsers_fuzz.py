"""Hypothesis over the parsers behind every input surface: command text, modal submissions,
config files. Each either answers or raises its own clear error type — never anything else.
Example counts are small in CI (DRUMBEAT_SOAK=full multiplies them by 10)."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from metrics.lookup import catalog_for
from rhythms.commands import drumbeat_command
from rhythms.config import ConfigError, load_org_config, parse_org_config
from rhythms.game_plan import parse_game_plan
from rhythms.maple_modal import VALUE_ACTION, modal_metadata, parse_submission
from rhythms.metric_answer import Refused
from rhythms.metric_query import QueryError, parse_query, team_words
from rhythms.permissions import viewer_for
from rhythms.scoreboard_command import scoreboard_reply
from tests.conftest import EXAMPLE_CONFIG
from tests.reliability.support import FULL, ROLE_USERS, roles_org
from tests.support.rhythms import FakeScoreboards, seed_directory

N = 500 if FULL else 50
CFG = roles_org()
TEAMS = team_words([(t.key, t.name, t.channel) for t in CFG.teams])
NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)
WORDS = st.sampled_from(
    [
        "calls",
        "meetings",
        "win",
        "rate",
        "sdr",
        "ae",
        "org",
        "@dana",
        "<@UDANA01>",
        "<#C1|x>",
        "vs",
        "last",
        "this",
        "week",
        "month",
        "30d",
        "2026-10-01..2026-10-31",
        "chart",
        "public",
        "rhythm",
        "on",
        "off",
        "time",
        "daily_scoreboard",
        "'",
        '"',
        "resync",
        "whoami",
    ]
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=8).map(" ".join),
)
SLOW = settings(
    max_examples=N,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SLOW
@given(text=TEXT)
def test_metric_query_answers_or_raises_query_error(text: str) -> None:
    try:
        query = parse_query(text, catalog_for(CFG), TEAMS)
    except QueryError as exc:
        assert str(exc)
    else:
        assert query.metric


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_drumbeat_and_scoreboard_commands_never_crash(session: Session) -> None:
    seed_directory(lambda: session, CFG)  # type: ignore[arg-type,return-value]
    viewers = {role: viewer_for(session, user) for role, user in ROLE_USERS.items()}

    @SLOW
    @given(text=TEXT, role=st.sampled_from(sorted(viewers)))
    def run(text: str, role: str) -> None:
        viewer = viewers[role]
        try:
            reply = drumbeat_command(
                session,
                config=CFG,
                viewer=viewer,
                slack_user_id=ROLE_USERS[role],
                text=text,
                now=NOW,
            )
            assert reply.text
            try:
                payload = scoreboard_reply(
                    session,
                    config=CFG,
                    viewer=viewer,
                    text=text,
                    now=NOW,
                    source=FakeScoreboards(),
                )
                assert payload["blocks"]
            except (QueryError, Refused) as exc:
                assert str(exc)
        finally:
            session.rollback()  # nothing a fuzzed command did is kept between examples

    run()


def _view(values: dict[str, Any], metadata: str = "") -> dict[str, Any]:
    return {"state": {"values": values}, "private_metadata": metadata}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
BLOCKS = ["progress", "planned", "advanced_done", "blockers", "learnings", "priorities", "wins"]


@SLOW
@given(
    values=st.dictionaries(
        st.sampled_from(BLOCKS),
        st.one_of(
            JSONISH,
            st.builds(lambda v: {VALUE_ACTION: {"value": v}}, st.text(max_size=3000)),
            st.builds(lambda v: {"value": {"value": v}}, st.text(max_size=3000)),
        ),
    ),
    metadata=st.one_of(st.text(max_size=50), JSONISH.map(str)),
    draft=st.booleans(),
)
def test_modal_submissions_validate_or_refuse(
    values: dict[str, Any], metadata: str, draft: bool
) -> None:
    answers, errors = parse_submission(_view(values), draft=draft)
    assert all(isinstance(v, str | list) for v in answers.values())
    assert all(isinstance(e, str) and e for e in errors.values())
    plan, plan_errors = parse_game_plan(_view(values))
    assert all(isinstance(v, str) for v in plan.values())
    assert all(isinstance(e, str) and e for e in plan_errors.values())
    try:
        meta = modal_metadata(_view({}, metadata))
    except ValueError as exc:
        assert "MAPLE modal metadata" in str(exc)
    else:
        assert isinstance(meta["person"], int)


EXAMPLE = tomllib.loads(EXAMPLE_CONFIG.read_text())


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        out.append((*prefix, key))
        out += _paths(value, (*prefix, key))
    return out


PATHS = _paths(EXAMPLE)


@SLOW
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(JSONISH, st.just("__delete__"))),
        min_size=1,
        max_size=3,
    )
)
def test_broken_config_data_is_a_config_error(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    data = copy.deepcopy(EXAMPLE)
    for path, value in edits:
        node: Any = data
        try:
            for key in path[:-1]:
                node = node[key]
            if value == "__delete__":
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced the parent
    try:
        parse_org_config(data, source="fuzzed.toml")
    except ConfigError as exc:
        assert "fuzzed.toml" in str(exc) and exc.problems


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe\x00 not utf-8",
        b"[org\nname = 'x'",
        b"[org]\nname = 'Acme'\n[[people]]\nemail = 42\n",
        b"people = 'nobody'\n",
        EXAMPLE_CONFIG.read_bytes()[: len(EXAMPLE_CONFIG.read_bytes()) // 2],
        EXAMPLE_CONFIG.read_bytes().replace(b"30 17 * * mon-fri", b"99 99 * * *"),
        EXAMPLE_CONFIG.read_bytes().replace(b"America/Chicago", b"Mars/Olympus_Mons"),
    ],
)
def test_broken_config_files_are_config_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "drumbeat.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_org_config(path)
    assert str(path) in str(err.value) and err.value.problems


def test_regression_non_dict_view_state_is_refused_not_a_crash() -> None:
    """Found by the fuzz above: a non-object where Slack puts an object raised AttributeError."""
    view = _view({"planned": True, "advanced_done": {VALUE_ACTION: {"selected_options": 5}}})
    answers, errors = parse_submission(view)
    assert answers["planned"] == "" and answers["advanced_done"] == []
    assert errors  # required fields are reported, nothing raised
    plan, plan_errors = parse_game_plan({"state": ["not", "an", "object"]})
    assert set(plan.values()) == {""} and plan_errors


def test_regression_a_nested_teams_list_is_not_taken_for_the_top_level_one() -> None:
    """Found by the fuzz above: with `teams` emptied, an alert's `scope.teams[0]` problem was
    mapped through the top-level `teams` list's file indexes (IndexError, not ConfigError)."""
    data = copy.deepcopy(EXAMPLE)
    data["org"]["timezone"] = None
    data["teams"] = []
    with pytest.raises(ConfigError) as err:
        parse_org_config(data, source="fuzzed.toml")
    paths = [path for path, _ in err.value.problems]
    assert any(p.startswith("alerts[") and ".scope.teams[0]" in p for p in paths), paths
