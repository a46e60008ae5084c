"""`python -m bench [NAME ...] [--scale small|full] [--engine sqlite|postgresql]`: run
benchmark scenarios, print a table."""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench.common import ENGINES, SCENARIOS, Context, Result, load, markdown, table


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"scenarios (default all): {', '.join(SCENARIOS)}")
    parser.add_argument("--scale", choices=("small", "full"), default="full")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="database of the cached org (postgresql: a private server, see bench/pg.py)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    names = args.names or [n for n in SCENARIOS if args.engine in ENGINES.get(n, ("sqlite",))]
    sqlite_only = [n for n in names if args.engine not in ENGINES.get(n, ("sqlite",))]
    if sqlite_only:
        parser.error(f"scenario(s) {', '.join(sqlite_only)} run on sqlite only")
    ctx = Context(scale=args.scale, engine=args.engine)
    results: list[Result] = []
    began = time.perf_counter()
    for name in names:
        print(f"running {name} ... (load {_load()})", file=sys.stderr, flush=True)
        started = time.perf_counter()
        results.extend(load(name)(ctx))
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(
        f"total {time.perf_counter() - began:.0f} s; load {_load()}; {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    print(markdown(results) if args.markdown else table(results))
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
