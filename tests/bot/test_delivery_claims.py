"""The one-statement claim (`UPDATE … RETURNING`, bot/delivery_claims.py) against the
reference loader `_load` (the query reconciliation uses), on SQLite and PostgreSQL: which
rows a claim takes (due, claimable, parent sent, oldest first, at most `limit`) and the
snapshots it returns."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery_claims as claims
from rhythms.models import Delivery
from tests.bot.test_sender import add, rows

NOW = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)


def _set(factory: sessionmaker[Session], delivery_id: int, **values: object) -> None:
    with factory() as session, session.begin():
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def test_claim_takes_the_due_rows_oldest_first_and_matches_the_reference_loader(
    session_factory: sessionmaker[Session],
) -> None:
    minute = dt.timedelta(minutes=1)
    parent = add(session_factory, "C0TEAM", part="post", now=NOW - 3 * minute)
    reply = add(session_factory, "C0TEAM", part="reply", thread_of_id=parent, now=NOW - 4 * minute)
    oldest = add(
        session_factory, "U0AAAA", now=NOW - 5 * minute, payload={"text": "a", "blocks": []}
    )
    failed = add(session_factory, "U0BBBB", now=NOW - 2 * minute)
    later = add(session_factory, "U0CCCC", now=NOW - minute)
    future = add(session_factory, "U0DDDD", now=NOW + minute)  # not due yet
    taken = add(session_factory, "U0EEEE", now=NOW - 6 * minute)  # another worker holds it
    dead = add(session_factory, "U0FFFF", now=NOW - 7 * minute)
    _set(session_factory, failed, status="failed", attempts=2, error="boom")
    _set(session_factory, taken, status="claimed", claimed_by="other", claimed_at=NOW)
    _set(session_factory, dead, status="dead", error="gone")

    with session_factory() as session, session.begin():
        first = claims.claim_due(session, worker="w", now=NOW, limit=2)
    # oldest due first; the reply (older than its parent) waits for the parent's `sent`
    assert [c.id for c in first] == sorted([oldest, parent])

    with session_factory() as session, session.begin():
        claims.record_sent(
            session, delivery_id=parent, worker="w", channel="C0TEAM", ts="1.5", now=NOW
        )
    with session_factory() as session, session.begin():
        second = claims.claim_due(session, worker="w2", now=NOW, limit=10)
    assert [c.id for c in second] == sorted([reply, failed, later])

    with session_factory() as session:  # the reference: the loader reconciliation uses
        for batch, worker in ((first, "w"), (second, "w2")):
            stamped = [c.id for c in batch if c.id != parent]  # parent is `sent` by now
            expected = claims._load(session, stamped, worker=worker, claimed_at=NOW)
            assert [c for c in batch if c.id != parent] == expected
    by_id = {c.id: c for c in second}
    assert (by_id[reply].parent_channel, by_id[reply].parent_ts) == ("C0TEAM", "1.5")
    assert by_id[failed].attempts == 3 and by_id[failed].last_error == "boom"
    assert by_id[later].parent_channel is None and by_id[later].attempts == 1

    state = {i: (d.status, d.claimed_by) for i, d in rows(session_factory).items()}
    assert state[future] == ("pending", None)
    assert state[taken] == ("claimed", "other")
    assert state[dead] == ("dead", None)
    with session_factory() as session, session.begin():
        assert claims.claim_due(session, worker="w3", now=NOW, limit=10) == []


def test_claimed_payload_decodes_to_what_was_enqueued(
    session_factory: sessionmaker[Session],
) -> None:
    """The claim carries the stored JSON text (decoded per send): it must decode to the
    enqueued payload exactly — non-ASCII, nesting, numbers, nulls — on both engines, via
    the claim and via the reconciliation loader."""
    payload = {
        "text": "🟡 Close: 2 of 4 — “quotes” \\ back\\slash \n new line",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Zoë* 3/60 ✅"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "ünïcode"}]},
        ],
        "numbers": [0, -1, 2.5, 1e-7],
        "nothing": None,
    }
    delivery_id = add(session_factory, "U0ZOE", now=NOW, payload=payload)
    with session_factory() as session, session.begin():
        (claimed,) = claims.claim_due(session, worker="w", now=NOW, limit=10)
    assert claimed.id == delivery_id
    assert isinstance(claimed.payload_json, str)
    assert claimed.payload == payload
    assert claimed.payload is not claimed.payload  # a fresh object per read, nothing cached
    with session_factory() as session:
        (loaded,) = claims._load(session, [delivery_id], worker="w", claimed_at=NOW)
    assert loaded.payload == payload
