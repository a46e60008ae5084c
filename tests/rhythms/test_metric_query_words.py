"""`/metric` words in any order, the new period words, `me`, questions instead of guesses,
and errors that quote at most 60 characters of what was typed."""

from __future__ import annotations

import pytest

from metrics.lookup import catalog_for
from metrics.period_words import EXAMPLES
from rhythms.config import load_org_config
from rhythms.metric_query import (
    ME,
    QueryError,
    Target,
    parse_query,
    parse_target,
    scoreboard_words,
)
from tests.conftest import EXAMPLE_CONFIG

CATALOG = catalog_for(load_org_config(EXAMPLE_CONFIG))
TEAMS = {"sdr": "sdr", "ae": "ae", "cs": "cs", "team-sdr": "sdr", "account executives": "ae"}


@pytest.mark.parametrize(
    ("text", "metric", "target", "period"),
    [
        ("<@UDANA|dana> calls", "calls", Target("user", "UDANA"), "today"),
        ("calls <@UDANA|dana>", "calls", Target("user", "UDANA"), "today"),
        ("sdr calls q3", "calls", Target("team", "sdr"), "q3"),
        ("q3 sdr calls", "calls", Target("team", "sdr"), "q3"),
        ("last quarter @dana meetings", "meetings_booked", Target("name", "dana"), "last quarter"),
        ("sdr meetings booked last week", "meetings_booked", Target("team", "sdr"), "last week"),
        ("account executives win rate ytd", "win_rate", Target("team", "ae"), "ytd"),
        ("org this year bookings", "bookings", Target("org"), "this year"),
        ("calls sdr nov 2025", "calls", Target("team", "sdr"), "nov 2025"),
        ("calls sdr November", "calls", Target("team", "sdr"), "november"),
        ("calls past week", "calls", Target("self"), "past week"),
        ("calls last 30 days", "calls", Target("self"), "last 30 days"),
        (
            "calls 2026-11-01 to 2026-11-15 ae",
            "calls",
            Target("team", "ae"),
            "2026-11-01 to 2026-11-15",
        ),
        ("sdr cals", "calls", Target("team", "sdr"), "today"),  # a typo, loosely, anywhere
        ("calls me", "calls", ME, "today"),
        ("me calls last week", "calls", ME, "last week"),
    ],
)
def test_words_in_any_order(text: str, metric: str, target: Target, period: str) -> None:
    query = parse_query(text, CATALOG, TEAMS)
    assert (query.metric, query.target, query.period) == (metric, target, period)


def test_extras_anywhere() -> None:
    query = parse_query("public sdr calls chart q3 vs last period", CATALOG, TEAMS)
    assert (query.metric, query.target, query.period) == ("calls", Target("team", "sdr"), "q3")
    assert query.compare and query.chart and query.public


def test_a_word_that_reads_two_ways_is_a_question() -> None:
    """A team called "Pipeline" (like the metric's synonym) or "Q3" (like the quarter): at
    the start the metric still wins, as it always did; elsewhere it is a question."""
    teams = {**TEAMS, "pipeline": "pipe", "q3": "q3pod"}
    assert parse_query("pipeline sdr", CATALOG, teams).metric == "pipeline_created"
    with pytest.raises(QueryError, match="could be the team `pipe` or the metric") as info:
        parse_query("today pipeline", CATALOG, teams)
    assert "put the metric first" in str(info.value)
    with pytest.raises(QueryError, match="could be the team `q3pod` or the period `q3`"):
        parse_query("calls q3", CATALOG, teams)
    with pytest.raises(QueryError, match="one person, team or the org"):
        parse_query("sdr calls <@UDANA|dana>", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="One period at a time"):
        parse_query("calls today q3", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="One metric at a time"):
        parse_query("calls sdr emails", CATALOG, TEAMS)


def test_what_nothing_claims_is_named() -> None:
    with pytest.raises(QueryError) as info:
        parse_query("calls narnia", CATALOG, TEAMS)
    assert str(info.value) == f"unknown period 'narnia': try {EXAMPLES}"
    with pytest.raises(QueryError, match="I didn't understand `foo`"):
        parse_query("calls sdr last week foo", CATALOG, TEAMS)
    with pytest.raises(QueryError, match="Which metric"):
        parse_query("sdr last week", CATALOG, TEAMS)


LONG = "x" * 600


@pytest.mark.parametrize(
    "text",
    [
        f"calls {LONG}",  # unknown period
        LONG,  # unknown metric
        f"calls sdr last week {LONG}",  # not understood
        f"<#C{'X' * 600}|>",  # a channel nobody knows
        f"calls sdr today {'q' * 600}",
        f"{'meetings' * 75} sdr",  # a metric that could be several
    ],
)
def test_errors_quote_at_most_60_characters(text: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text, CATALOG, {**TEAMS, "c0000": "sdr"})
    message = str(info.value)
    assert "…" in message
    for run in ("x" * 60, "X" * 60, "q" * 60, "meetings" * 8):
        assert run not in message


def test_scoreboard_takes_today_in_any_place() -> None:
    assert scoreboard_words(["sdr", "today"], TEAMS) == (Target("team", "sdr"), [])
    assert scoreboard_words(["Today", "#team-sdr"], TEAMS) == (Target("team", "sdr"), [])
    assert scoreboard_words(["today", "<@UDANA|dana>"], TEAMS) == (Target("user", "UDANA"), [])
    assert scoreboard_words([], TEAMS) == (Target("self"), [])
    assert scoreboard_words(["sdr", "banana", "public"], TEAMS)[1] == ["banana", "public"]
    with pytest.raises(QueryError, match=r"A scoreboard is today's\. For last week ask `/metric`"):
        scoreboard_words(["sdr", "last", "week"], TEAMS)
    # `parse_target` is what it was: the other words, periods included, are the caller's
    assert parse_target(["sdr", "today"], TEAMS) == (Target("team", "sdr"), ["today"])
