"""`drumbeat preview RHYTHM [--person EMAIL] [--at ISO-TIME] [--json]`: what a rhythm would
send, printed as text and Block Kit JSON. Reads the database named by the settings; writes
nothing and sends nothing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from rich.markup import escape

from bot.cli.common import (
    cannot_reach,
    connection_failed,
    console,
    err_console,
    load_config_or_exit,
    print_error,
)
from bot.settings import Settings
from metrics.clock import SystemClock, TravellingClock
from metrics.store import make_engine, make_session_factory, redacted
from rhythms.blocks import render_text
from rhythms.engine import EngineError, RhythmEngine
from rhythms.preview import preview


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "preview",
        help="print what a rhythm would send, without sending",
        description=(
            "Compose RHYTHM (a name under [rhythms] in drumbeat.toml) as it would run at --at "
            "(default: now) and print each message's text rendering and Block Kit JSON. "
            "Nothing is written to the outbox and nothing is sent."
        ),
    )
    parser.add_argument("rhythm", help="rhythm name, e.g. daily_scoreboard")
    parser.add_argument("--person", metavar="EMAIL", help="only this person's message")
    parser.add_argument(
        "--at",
        metavar="ISO-TIME",
        help="when, e.g. 2026-11-23T17:30-06:00 (naive times are read as UTC)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    parser.set_defaults(handler=run)


def parse_at(text: str | None) -> dt.datetime:
    if text is None:
        return SystemClock().now()
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise EngineError(f"--at {text!r} is not an ISO time like 2026-11-23T17:30-06:00") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    config = load_config_or_exit(None, settings)
    db = make_engine(settings.database_url)
    try:
        at = parse_at(args.at)
        engine = RhythmEngine(
            session_factory=make_session_factory(db), config=config, clock=TravellingClock(at)
        )
        with engine.session_factory() as session:
            outgoing = preview(
                engine, session, rhythm_name=args.rhythm, at=at, person_email=args.person
            )
            session.rollback()
    except EngineError as exc:
        err_console.print(f"[red]preview:[/] {escape(str(exc))}")
        return 2
    except Exception as exc:  # a database that is missing, unmigrated or unreachable
        if connection_failed(exc):
            print_error(f"preview: {cannot_reach(settings.database_url, exc)}")
            return 1
        err_console.print(
            f"[red]preview:[/] cannot read {escape(redacted(settings.database_url))}: "
            f"{type(exc).__name__} (run `drumbeat migrate` and `drumbeat sync` first?)"
        )
        return 1
    finally:
        db.dispose()
    items: list[dict[str, Any]] = [
        {"recipient": o.recipient, "kind": o.kind, "part": o.part, "payload": o.payload}
        for o in outgoing
    ]
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    if not items:
        console.print(f"{args.rhythm} would send nothing at {at:%Y-%m-%d %H:%M} UTC.", markup=False)
    for item in items:
        payload = item["payload"]
        console.print(f"[bold]→ {escape(item['recipient'])}[/] ({item['kind']}, {item['part']})")
        console.print(f"[dim]notification:[/] {escape(str(payload.get('text', '')))}")
        console.print(render_text(payload.get("blocks", [])), markup=False)
        console.print(
            json.dumps(payload.get("blocks", []), indent=2, ensure_ascii=False), markup=False
        )
        console.print()
    return 0
