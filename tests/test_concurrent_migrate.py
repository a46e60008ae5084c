"""Every replica runs `drumbeat migrate && drumbeat run`: three migrates started together on a
fresh database all succeed (PostgreSQL: an advisory lock serialises them and the later ones
find the schema current; SQLite: its write lock does), and the schema ends at head."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bot.db import schema_problem

# Each process imports everything, says it is ready, waits for the go, then upgrades: the
# three upgrades start within milliseconds of each other.
MIGRATE = """
import sys, time
from pathlib import Path
from bot.db import upgrade
here = Path(sys.argv[2])
(here / f"ready-{sys.argv[3]}").touch()
deadline = time.monotonic() + 60
while not (here / "go").exists():
    assert time.monotonic() < deadline, "no go"
    time.sleep(0.001)
upgrade(sys.argv[1])
"""


def test_three_concurrent_migrates_on_a_fresh_database_all_succeed(
    empty_db_url: str, tmp_path: Path
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, empty_db_url, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(3)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready-*"))) < 3:
            assert time.monotonic() < deadline, "the migrate processes did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        (tmp_path / "go").touch()
        results = [(p.wait(120), p.communicate()[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    failed = [output for rc, output in results if rc != 0]
    assert not failed, failed[0][-3000:]
    assert schema_problem(empty_db_url) is None
