"""CRM records with nulls, wrong types, unknown owners, huge strings and odd unicode (CSV
import, the connector users feed by hand): good rows load, bad rows are reported as
`file:line: reason`, the run does not fail and nothing half-written remains — on both
engines (PostgreSQL enforces column lengths; SQLite does not)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm import sanitize
from metrics.crm.csv_source import CsvConnector
from metrics.crm.engine import sync_source
from metrics.crm.records import DealRecord, RecordProblem
from metrics.models import Activity, CrmUser, Deal
from tests.metrics.crm.helpers import NOW, stored

HUGE = "x" * 10_000
ODD = "Zoë \u202eevil\u202c 😀 \x00 ﬁ İ 𝔘𝔫𝔦"
GOOD_CREATED = "2026-11-02T10:00:00Z"

DEAL_ROWS = [
    # id, name, owner_email, stage, amount, currency, type, created_at, status
    ("G1", "Good", "dana@acme.example", "demo", "100", "USD", "new", GOOD_CREATED, "open"),
    ("N1", "", "", "", "", "", "", GOOD_CREATED, ""),  # nulls everywhere but the key
    ("W1", "Wrong", "dana@acme.example", "demo", "abc", "USD", "new", GOOD_CREATED, "open"),
    ("W2", "Wrong", "dana@acme.example", "demo", "1e400", "USD", "new", GOOD_CREATED, "open"),
    ("W3", "Wrong", "dana@acme.example", "demo", "NaN", "USD", "new", GOOD_CREATED, "open"),
    ("W4", "Wrong", "dana@acme.example", "demo", "100", "€€€€€€", "new", GOOD_CREATED, "open"),
    ("U1", "Unknown", "ghost@nowhere.example", "demo", "1", "USD", "", GOOD_CREATED, "open"),
    ("H1", HUGE, "dana@acme.example", HUGE, "1", "USD", HUGE, GOOD_CREATED, "open"),
    ("H2", "Huge owner", HUGE + "@x.example", "demo", "1", "USD", "", GOOD_CREATED, "open"),
    (HUGE, "Huge id", "dana@acme.example", "demo", "1", "USD", "", GOOD_CREATED, "open"),
    ("O1", ODD, ODD, ODD, "1", "USD", ODD, GOOD_CREATED, "open"),
    ("D1", "Bad date", "dana@acme.example", "demo", "1", "USD", "", "2026-02-30", "open"),
    ("D2", "No date", "dana@acme.example", "demo", "1", "USD", "", "", "open"),
]
ACTIVITY_ROWS = [
    # id, type, owner_email, occurred_at, outcome, duration_seconds, subject
    ("A1", "call", "dana@acme.example", GOOD_CREATED, "connected", "60", "ok"),
    ("A2", "call", "", GOOD_CREATED, "", "", ""),
    ("A3", "call", "dana@acme.example", GOOD_CREATED, "connected", "-5", "negative"),
    ("A4", "call", "dana@acme.example", GOOD_CREATED, "connected", "ten", "text"),
    ("A5", "call", "dana@acme.example", GOOD_CREATED, HUGE, HUGE, HUGE),
    ("A6", "meeting", ODD, GOOD_CREATED, ODD, "1", ODD),
    ("A7", ODD, "dana@acme.example", GOOD_CREATED, "", "", ""),
    (HUGE, "call", "dana@acme.example", GOOD_CREATED, "", "", ""),
]


def write(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_bad_crm_records_are_reported_and_the_rest_loads(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    write(
        tmp_path / "deals.csv",
        [
            "id",
            "name",
            "owner_email",
            "stage",
            "amount",
            "currency",
            "type",
            "created_at",
            "status",
        ],
        DEAL_ROWS,
    )
    write(
        tmp_path / "activities.csv",
        ["id", "type", "owner_email", "occurred_at", "outcome", "duration_seconds", "subject"],
        ACTIVITY_ROWS,
    )
    conn = CsvConnector(tmp_path, default_currency="USD")
    report = sync_source(conn, session_factory=session_factory, clock=TravellingClock(NOW))
    assert report.ok, report.error
    deals = stored(session_factory, Deal, "csv")
    acts = stored(session_factory, Activity, "csv")
    assert "G1" in deals and deals["G1"].amount == 100
    assert "A1" in acts
    seen = len(deals) + report.objects["deals"].problems
    assert seen == len(DEAL_ROWS), (sorted(deals), report.objects["deals"].problem_samples)
    seen = len(acts) + report.objects["activities"].problems
    assert seen == len(ACTIVITY_ROWS), (sorted(acts), report.objects["activities"].problem_samples)
    for sample in report.objects["deals"].problem_samples:
        assert sample.startswith("deals") and len(sample) < 1000  # no 10,000-char echo
    # What was stored fits its columns (PostgreSQL would have refused it otherwise).
    for deal in deals.values():
        assert len(deal.external_id) <= 64 and "\x00" not in (deal.name or "")
    # An unknown owner is kept as a placeholder, not dropped.
    assert "U1" in deals and "ghost@nowhere.example" in stored(session_factory, CrmUser, "csv")
    # Odd unicode survives, minus the NUL PostgreSQL cannot hold; huge free text is cut.
    assert deals["O1"].name == ODD.replace("\x00", "")
    assert deals["H1"].name is not None and len(deals["H1"].name) == 300


def test_sanitize_unit() -> None:
    rec = DealRecord("D\x001", "o", NOW, NOW, name="a\x00b" + "c" * 400, stage="s" * 99)
    clean = sanitize.record("deals", rec)
    assert isinstance(clean, DealRecord)
    assert clean.external_id == "D1" and clean.name is not None and clean.name.startswith("abc")
    assert len(clean.name) == 300 and clean.stage == "s" * 64
    problem = sanitize.record("deals", DealRecord("D2", "o" * 65, NOW, NOW))
    assert isinstance(problem, RecordProblem) and "owner_external_id" in problem.reason
