"""`drumbeat demo`: seed a demo org and run everything against the local Slack sandbox,
with a web page that looks and reads like Slack (see `bot/demo.py`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bot.cli.common import console, database_url, err_console, port_number
from bot.cli.preflight import port_problem
from bot.demo import Demo, DemoOptions
from bot.http import PortInUseError
from metrics.crm.engine import ObjectStats


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="seed a demo org and run everything against the local Slack sandbox",
        description=(
            "Seed a realistic demo org (SQLite, demo CRM), start the sandbox Slack, the bot and "
            "a Slack-like web page on localhost with a time control to fast-forward through "
            "scoreboards, MAPLE, alerts and the monthly review."
        ),
    )
    parser.add_argument("--people", type=int, default=24, help="number of reps (default 24)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same org)")
    parser.add_argument(
        "--port", type=port_number, default=8080, help="web page port (default 8080; 0: any free)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface for the web page")
    parser.add_argument("--months", type=int, default=6, help="months of CRM history")
    parser.add_argument("--database-url", type=database_url, default="sqlite:///./drumbeat-demo.db")
    parser.add_argument(
        "--config-out",
        type=Path,
        default=Path("./drumbeat-demo.toml"),
        help="where the demo org's drumbeat.toml is written",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep an existing demo database instead of starting fresh",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.people < 1 or args.people > 10_000:
        err_console.print("[red]--people must be between 1 and 10000[/]")
        return 2
    if args.months < 1 or args.months > 24:
        err_console.print("[red]--months must be between 1 and 24[/]")
        return 2
    if problem := port_problem(args.host, args.port):  # before seeding takes minutes
        err_console.print(f"[red]cannot start the demo:[/] {escape(problem)}")
        return 2
    if not args.keep and args.database_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            path = Path(args.database_url.removeprefix("sqlite:///") + suffix)
            if path.exists():
                path.unlink()
    demo = Demo(
        DemoOptions(
            reps=args.people,
            seed=args.seed,
            port=args.port,
            host=args.host,
            database_url=args.database_url,
            config_path=args.config_out,
            months=args.months,
        )
    )
    console.print(f"Seeding a demo org: {args.people} reps, {args.months} months of CRM history")
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_page(obj: str, stats: ObjectStats) -> None:
            if obj not in tasks:
                tasks[obj] = progress.add_task(f"demo CRM {obj}", total=None, detail="")
            progress.update(tasks[obj], detail=f"{stats.fetched:,} records")

        result = demo.seed(on_page)
    console.print(
        f"Loaded {sum(s.new for s in result.sync.objects.values()):,} CRM records; "
        f"{result.rollups.rows_written:,} daily rollup rows"
    )
    return asyncio.run(_serve(demo))


async def _serve(demo: Demo) -> int:
    stop = asyncio.Event()
    if os.name == "posix":
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        url = await demo.start()
    except PortInUseError as exc:  # taken between the check and now
        await demo.stop()
        err_console.print(f"[red]cannot start the demo:[/] {escape(str(exc))}")
        return 2
    console.print(f"\n[bold green]Drumbeat demo is running:[/] open {escape(url)}")
    console.print(
        "Pick who you are in the sidebar, then use the time control at the top "
        "(Next scoreboard, Friday 14:00, Next month...). Ctrl-C stops it."
    )
    console.print(f"The demo org's config is in {demo.options.config_path}.", markup=False)
    try:
        await stop.wait()
    finally:
        await demo.stop()
    return 0
