"""`python -m bench [NAME ...] [--scale small|full]`: run benchmark scenarios, print a table."""

from __future__ import annotations

import argparse
import sys

from bench.common import SCENARIOS, Context, Result, load, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"scenarios (default all): {', '.join(SCENARIOS)}")
    parser.add_argument("--scale", choices=("small", "full"), default="full")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    ctx = Context(scale=args.scale)
    results: list[Result] = []
    for name in args.names or list(SCENARIOS):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.extend(load(name)(ctx))
    print(table(results))
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
