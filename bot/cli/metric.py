"""`drumbeat metric NAME [--person EMAIL | --team KEY | --org] [--period SPEC] [--json]`.

The same lookup as `/metric`, for admins and scripts (no Slack, no permission check: whoever
can read the database can read the numbers). `--json` prints value, target, pace, status,
the period's start and end, and the time zone used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import (
    console,
    database_error,
    load_config_or_exit,
    open_session,
    print_error,
)
from bot.settings import Settings
from metrics.clock import SystemClock
from metrics.lookup import catalog_for
from rhythms.blocks import fmt_number
from rhythms.config import OrgConfig
from rhythms.metric_answer import Refused, answer, data_warning, resolve_subject
from rhythms.metric_query import (
    MetricQuery,
    QueryError,
    Target,
    config_team_words,
    find_team,
    match_metric,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "metric",
        help="look up a metric for a person, team or the org",
        description="Look up a metric from the rollups (same numbers as /metric in Slack).",
    )
    parser.add_argument("name", help="metric name, e.g. calls, meetings_booked, win_rate")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--person", metavar="EMAIL", help="an email or a name, e.g. dana or @dana")
    who.add_argument("--team", metavar="KEY", help="a team key, name or channel, e.g. sdr")
    who.add_argument("--org", action="store_true")
    parser.add_argument(
        "--period",
        default="today",
        help="today, yesterday, this week, last week, this month, last 30d, "
        "2026-10-01..2026-10-31 (default: today)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    config = load_config_or_exit(None, settings)
    now = SystemClock().now()
    try:
        with open_session(settings) as session:
            metric = match_metric(args.name, catalog_for(config))
            target = _target(args, config)
            subject = resolve_subject(
                session, config=config, viewer=None, target=target, trusted=True
            )
            query = MetricQuery(
                metric, target, args.period, compare=True, chart=False, public=False
            )
            result = answer(session, config=config, query=query, subject=subject, now=now)
    except (QueryError, Refused, ValueError) as exc:
        print_error(exc)
        return 2
    except SQLAlchemyError as exc:
        return database_error(settings, exc, "drumbeat migrate` and `drumbeat sync")
    if args.json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
        return 0
    currency = config.currency.reporting
    value = "–" if result.value is None else fmt_number(result.value, result.unit, currency)
    line = f"{result.label} · {result.subject} · {result.period_label}: {value}"
    if result.target is not None:
        line += f" of {fmt_number(result.target, result.unit, currency)}"
    if result.expected is not None:
        line += f" (pace {fmt_number(result.expected, result.unit, currency)}, {result.status})"
    console.print(line, markup=False)
    console.print(f"{result.start} .. {result.end} ({result.timezone})", markup=False)
    warning = data_warning(result.last_sync, result.has_data, now)
    if warning:
        console.print(warning, markup=False)
    return 0


def _target(args: argparse.Namespace, config: OrgConfig) -> Target:
    """Who `--person`/`--team`/`--org` names: a person as `/metric @dana` would (a leading
    @ is dropped), a team by any word `/metric` accepts for it (key, name, channel)."""
    if args.org:
        return Target("org")
    if args.person is not None:
        name = " ".join(args.person.split()).removeprefix("@").strip().lower()
        if not name:
            raise QueryError("--person needs an email or a name, e.g. --person dana")
        return Target("name", name)
    word = " ".join(args.team.split())
    if not word:
        raise QueryError("--team needs a team key or name, e.g. --team sdr")
    team = find_team(word, config_team_words(config))
    if team is None:
        raise QueryError(f"No team `{word}`: try " + ", ".join(t.key for t in config.teams))
    return Target("team", team)
