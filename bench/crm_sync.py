"""CRM sync throughput from the fake HubSpot server (issue #12, item 1).

The fake (`tests.support.fake_crm.hubspot.FakeHubSpot`) runs in a child process, so its JSON
work does not share this process's GIL with the sync. Two full syncs into a fresh SQLite
store through the real `HubSpotConnector` and `sync_source`:

- unpaced (client-side budgets lifted): records/s into the store, target >= 20,000/s;
- paced with HubSpot's documented limits (search 4 requests/s, 100 requests/10 s), on a
  smaller seed: wall time / the limits' floor (search requests / 4 per second), target <= 1.2.

    python -m bench.crm_sync --serve OWNERS DEALS PER_TYPE   # the child: prints its URL
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Context, Result
from bot import db
from metrics.clock import TravellingClock
from metrics.crm.engine import sync_source
from metrics.crm.http import RetryPolicy
from metrics.crm.hubspot import HubSpotConnector
from metrics.store import make_engine, make_session_factory

START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
TOKEN = "hs-secret-token"
SEARCH_PER_SECOND = 4  # the connector's default budget (HubSpot documents 5/s per account)
DOCUMENTED_SEARCH_PER_SECOND = 5
TEN_SECOND_LIMIT = 100
# (owners, deals, activities per type: calls, emails, meetings, tasks); search cap 10,000
SIZES = {"full": ((200, 8_000, 9_000), (50, 1_000, 1_000)), "small": ((50, 2_000, 2_000),) * 2}


def _serve(owners: int, deals: int, per_type: int) -> None:
    from tests.support.fake_crm.hubspot import FakeHubSpot

    fake = FakeHubSpot(token=TOKEN)
    fake.seed(owners=owners, deals=deals, per_type=per_type, start=START)
    print(fake.start(), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()


class _Counting:
    def __init__(self, acquire: Callable[[], None]) -> None:
        self.acquire_inner, self.count = acquire, 0

    def __call__(self) -> None:
        self.count += 1
        self.acquire_inner()


def _sync(size: tuple[int, int, int], *, paced: bool) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.crm_sync", "--serve", *map(str, size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise RuntimeError("the fake HubSpot did not start")
        with tempfile.TemporaryDirectory() as tmp:
            store = f"sqlite:///{Path(tmp) / 'sync.db'}"
            db.upgrade(store)
            engine = make_engine(store)
            unlimited = 1_000_000
            conn = HubSpotConnector(
                token=TOKEN,
                base_url=url,
                page_size=200,
                ten_second_limit=TEN_SECOND_LIMIT if paced else unlimited,
                search_per_second=SEARCH_PER_SECOND if paced else unlimited,
                lookback=dt.timedelta(0),
                retry=RetryPolicy(max_attempts=4),
            )
            search = _Counting(conn._search.acquire)
            other = _Counting(conn._ten_second.acquire)
            conn._search.acquire = search  # type: ignore[method-assign]
            conn._ten_second.acquire = other  # type: ignore[method-assign]
            try:
                began = time.perf_counter()
                report = sync_source(
                    conn, session_factory=make_session_factory(engine), clock=TravellingClock(NOW)
                )
                wall = time.perf_counter() - began
            finally:
                conn.close()
                engine.dispose()
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(30)
    if not report.ok:
        raise SystemExit(f"sync failed: {report.error}")
    records = sum(s.new + s.updated for s in report.objects.values())
    floor = max(
        (search.count - SEARCH_PER_SECOND) / SEARCH_PER_SECOND,
        (other.count - TEN_SECOND_LIMIT) / TEN_SECOND_LIMIT * 10,
        0.0,
    )
    return {
        "records": records,
        "wall": wall,
        "search": search.count,
        "other": other.count,
        "floor": floor,
    }


def run(ctx: Context) -> list[Result]:
    big, small = SIZES[ctx.scale]
    print(f"  unpaced full sync: {big[1] + 4 * big[2]:,} records ...", file=sys.stderr, flush=True)
    fast = _sync(big, paced=False)
    print(
        f"  paced full sync: {small[1] + 4 * small[2]:,} records ...", file=sys.stderr, flush=True
    )
    paced = _sync(small, paced=True)
    rate = fast["records"] / fast["wall"]
    ratio = paced["wall"] / paced["floor"] if paced["floor"] else float("nan")
    documented = (paced["search"] - DOCUMENTED_SEARCH_PER_SECOND) / DOCUMENTED_SEARCH_PER_SECOND
    return [
        Result(
            "crm_sync",
            "HubSpot full sync, unpaced",
            rate,
            "rows/s",
            ">= 20,000 rows/s",
            rate >= 20_000,
            f"{fast['records']:,.0f} records in {fast['wall']:.1f} s, {fast['search']:.0f} "
            "search pages of 200; fake in a child process; SQLite store",
        ),
        Result(
            "crm_sync",
            "HubSpot full sync, paced: wall / floor",
            ratio,
            "x",
            "<= 1.2",
            ratio <= 1.2,
            f"{paced['wall']:.1f} s vs floor {paced['floor']:.1f} s ({paced['search']:.0f} "
            f"searches at {SEARCH_PER_SECOND}/s, {paced['other']:.0f} other requests); "
            f"{paced['records']:,.0f} records; vs HubSpot's documented "
            f"{DOCUMENTED_SEARCH_PER_SECOND}/s: {paced['wall'] / documented:.2f}x",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        _serve(*(int(a) for a in sys.argv[2:]))
    else:
        raise SystemExit("usage: python -m bench.crm_sync --serve OWNERS DEALS PER_TYPE")
