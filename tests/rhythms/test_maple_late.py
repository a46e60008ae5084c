"""Late updates: every submitted MAPLE update ends up in the week's digest or in its thread,
whenever it commits — also in the same instant as the digest is built."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import Person
from rhythms import maple_rhythm
from rhythms.config import OrgConfig
from rhythms.maple import get_reply, revisions, save_reply
from rhythms.maple_flow import SubmitOutcome, submit
from rhythms.maple_rhythm import deadline_at, maple_followups, post_digest
from rhythms.models import Delivery, DigestShown
from rhythms.registry import configured_audience
from tests.rhythms.test_maple_rhythm import (
    _config,
    _deliveries,
    _prompted,
    _setup,
    _submit_view,
    _utc,
)

WEEK = "2026-W47"
DIGEST_AT = _utc(23, 17, 5)  # Monday 12:05 New York, just past the deadline


def _during_digest(
    monkeypatch: pytest.MonkeyPatch,
    engine_name: str,
    digest_session: Session,
    factory: sessionmaker[Session],
    action: Callable[[Session], object],
) -> None:
    """Have `action` happen after the digest read the week's replies and before it enqueues:
    on PostgreSQL from a second session that commits while the digest's transaction stays
    open (READ COMMITTED: the digest has read, the submitter cannot see the digest); on
    SQLite — whose single writer lock makes a second connection wait until the digest
    commits, so the race cannot happen there — inside the digest's own transaction, after
    its read, which leaves the same state behind."""
    compose = maple_rhythm.maple_digest

    def composing(**kwargs: Any) -> Any:
        if engine_name == "postgresql":
            with factory() as other:
                action(other)
                other.commit()
        else:
            action(digest_session)
        return compose(**kwargs)

    monkeypatch.setattr(maple_rhythm, "maple_digest", composing)


def _submitting(cfg: OrgConfig, person: Person, **answers: str) -> Callable[[Session], object]:
    def action(session: Session) -> object:
        return submit(
            session,
            config=cfg,
            view=_submit_view(person, **answers),
            slack_user_id=person.slack_user_id or "",
            now=DIGEST_AT,
        )

    return action


def _heads(session: Session) -> list[Delivery]:
    return [d for d in _deliveries(session, period_key=f"digest:{WEEK}") if d.thread_of_id is None]


def _thread_posts(session: Session, person: Person) -> list[Delivery]:
    """Deliveries in the digest's thread that carry `person`'s update after the digest."""
    name = json.dumps(person.name)[1:-1]
    return [
        d
        for d in _deliveries(session, period_key=f"digest:{WEEK}")
        if d.thread_of_id is not None
        and not d.part.startswith("part:")
        and f"*{name}* ·" in json.dumps(d.payload, ensure_ascii=False)
    ]


def _submit_before(session: Session, person: Person, advanced: str) -> None:
    save_reply(
        session,
        rhythm="maple",
        period_key=WEEK,
        person_id=person.id,
        answers={"advanced": advanced, "planned": "- QBR"},
        submit=True,
        now=_utc(20, 20),
    )
    session.commit()


def _shown(session: Session, person: Person) -> list[tuple[int, str]]:
    reply = get_reply(session, rhythm="maple", period_key=WEEK, person_id=person.id)
    assert reply is not None
    rows = session.scalars(select(DigestShown).where(DigestShown.reply_id == reply.id))
    return sorted((r.revision_id, r.shown_in) for r in rows)


def _revisions(session: Session, person: Person) -> list[int]:
    reply = get_reply(session, rhythm="maple", period_key=WEEK, person_id=person.id)
    assert reply is not None
    return [r.id for r in revisions(session, reply_id=reply.id) if r.status == "submitted"]


@pytest.mark.parametrize("moment", ["while composing", "after the sweep"])
def test_an_update_committed_while_the_digest_is_built_is_posted_late(
    moment: str,
    monkeypatch: pytest.MonkeyPatch,
    engine_name: str,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    """Priya submits in the instant the digest is built: after its read ("while composing"),
    or after the same beat's sweep read too ("after the sweep", just before the digest's
    commit). Her submission does not see the digest; the digest does not show her update.
    A beat posts it in the digest's thread, once, and never the updates the digest shows."""
    cfg = _config()
    people = _setup(session, cfg)
    maria, priya = people["maria"], people["priya"]
    _submit_before(session, maria, "Closed Initech")
    submitting = _submitting(cfg, priya, advanced="Renewed Hooli", planned="- Expand")
    if moment == "while composing":
        _during_digest(monkeypatch, engine_name, session, session_factory, submitting)
    assert maple_followups(session, config=cfg, now=DIGEST_AT).digests == 2
    if moment == "after the sweep":
        if engine_name == "postgresql":
            with session_factory() as other:
                submitting(other)
                other.commit()
        else:
            submitting(session)
    session.commit()
    monkeypatch.undo()
    heads = _heads(session)
    text = json.dumps([d.payload for d in heads], ensure_ascii=False)
    assert "Closed Initech" in text
    assert "Renewed Hooli" not in text and "Not in yet:* Tom Becker" in text  # missed it
    for when in (_utc(23, 17, 6), _utc(23, 17, 7), _utc(23, 18)):  # the next beats
        maple_followups(session, config=cfg, now=when)
        session.commit()
    posted = _thread_posts(session, priya)
    assert sorted((d.recipient, d.thread_of_id) for d in posted) == sorted(
        (d.recipient, d.id) for d in heads
    )
    assert "Late update* — submitted Mon 12:05 EST" in json.dumps(
        posted[0].payload, ensure_ascii=False
    )
    assert "Renewed Hooli" in json.dumps(posted[0].payload, ensure_ascii=False)
    assert _thread_posts(session, maria) == []  # shown in the digest: not posted again
    assert _shown(session, maria) == [(_revisions(session, maria)[-1], "digest")]
    assert _shown(session, priya) == [(_revisions(session, priya)[-1], "thread")]


def test_an_edit_committed_while_the_digest_is_built_is_posted_as_an_edit(
    monkeypatch: pytest.MonkeyPatch,
    engine_name: str,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    """The digest shows the version it read (and records that one), not a later edit: the
    edit goes into the thread. The digest's session already holds Maria's reply from
    before, at the old version."""
    cfg = _config()
    people = _setup(session, cfg)
    maria = people["maria"]
    _submit_before(session, maria, "Closed Initech")
    first = _revisions(session, maria)
    editing = _submitting(cfg, maria, advanced="Closed Initech and Hooli", planned="- QBR")
    _during_digest(monkeypatch, engine_name, session, session_factory, editing)
    maple_followups(session, config=cfg, now=DIGEST_AT)
    session.commit()
    monkeypatch.undo()
    text = json.dumps([d.payload for d in _heads(session)], ensure_ascii=False)
    assert "Closed Initech" in text and "Hooli" not in text
    maple_followups(session, config=cfg, now=_utc(23, 17, 6))
    session.commit()
    (post, *others) = _thread_posts(session, maria)
    assert len(others) == 1  # one per digest audience
    assert "Edited update* — changed Mon 12:05 EST" in json.dumps(post.payload, ensure_ascii=False)
    assert "Closed Initech and Hooli" in json.dumps(post.payload, ensure_ascii=False)
    assert _shown(session, maria) == [
        (first[-1], "digest"),
        (_revisions(session, maria)[-1], "thread"),
    ]


def test_an_edit_after_the_digest_is_posted_once_and_a_draft_not_at_all(
    session: Session,
) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    maria = people["maria"]
    _submit_before(session, maria, "Closed Initech")
    maple_followups(session, config=cfg, now=DIGEST_AT)
    session.commit()
    assert _thread_posts(session, maria) == []
    edit = {"advanced": "Closed Initech, lost Hooli", "planned": "- QBR"}
    out = _submitting(cfg, maria, **edit)(session)
    session.commit()
    assert isinstance(out, SubmitOutcome) and out.late_posted == 2
    (thanks,) = [d for d in _deliveries(session) if d.period_key == f"thanks:{WEEK}"]
    assert "the new version was added to the digest's thread" in thanks.payload["text"]
    again = _submitting(cfg, maria, **edit)(session)  # a double click: nothing new
    session.commit()
    assert isinstance(again, SubmitOutcome) and again.unchanged and again.late_posted == 0
    draft = submit(
        session,
        config=cfg,
        view=_submit_view(maria, advanced="half-typed", planned="- QBR"),
        slack_user_id=maria.slack_user_id or "",
        now=_utc(23, 17, 20),
        draft=True,
    )
    session.commit()
    assert draft.late_posted == 0
    for when in (_utc(23, 17, 30), _utc(23, 18)):
        maple_followups(session, config=cfg, now=when)
        session.commit()
    posts = _thread_posts(session, maria)
    assert len(posts) == 2  # the edit, to both digest audiences; not the draft
    assert all("Edited update" in json.dumps(d.payload) for d in posts)
    assert "half-typed" not in json.dumps([d.payload for d in posts])


def test_a_rerun_of_the_digest_records_only_what_it_first_posted(session: Session) -> None:
    """The digest's posts keep what they first showed: running it again for the week (its
    deliveries exist, enqueue writes nothing) must not claim the newer updates as shown."""
    cfg = _config()
    people = _setup(session, cfg)
    maria, priya = people["maria"], people["priya"]
    _submit_before(session, maria, "Closed Initech")
    maple_followups(session, config=cfg, now=DIGEST_AT)
    session.commit()
    _submit_before(session, priya, "Renewed Hooli")  # stored without the late path
    rhythm = cfg.rhythms["maple"]
    before = len(_deliveries(session))
    for _ in range(2):
        post_digest(
            session,
            config=cfg,
            name="maple",
            week=WEEK,
            audience=configured_audience(session, cfg, rhythm),
            deadline=deadline_at(rhythm, WEEK, cfg.org.timezone),
            now=_utc(23, 17, 6),
        )
        session.commit()
    assert len(_deliveries(session)) == before
    assert [shown_in for _, shown_in in _shown(session, priya)] == []
    for when in (_utc(23, 17, 7), _utc(23, 17, 8)):
        maple_followups(session, config=cfg, now=when)
        session.commit()
    assert len(_thread_posts(session, priya)) == 2
    assert len(_deliveries(session)) == before + 2
    assert _thread_posts(session, maria) == []


def test_the_sweep_never_posts_a_version_older_than_one_in_flight(
    monkeypatch: pytest.MonkeyPatch,
    engine_name: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    """Priya's first version missed the digest; while the sweep looks at it she submits an
    edit (not committed yet). The sweep waits for her reply's row and then sees that her
    edit posted itself: the thread gets the edit only, not the stale version after it."""
    if engine_name != "postgresql":
        pytest.skip("SQLite's single writer lock serialises the sweep and the submission")
    cfg = _config()
    people = _setup(session, cfg)
    _prompted(session)
    priya = people["priya"]
    maple_followups(session, config=cfg, now=DIGEST_AT)
    with session_factory() as other:  # committed after the digest's sweep, before its commit
        _submitting(cfg, priya, advanced="First version", planned="- A")(other)
        other.commit()
    session.commit()
    assert _thread_posts(session, priya) == []
    editor = session_factory()
    edit = _submitting(cfg, priya, advanced="Second version", planned="- A")(editor)
    assert isinstance(edit, SubmitOutcome) and edit.late_posted == 2  # not committed yet
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            with session_factory() as s:
                maple_followups(s, config=cfg, now=_utc(23, 17, 6))
                s.commit()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    _wait_until_blocked_or_done(engine, sweeper)
    editor.commit()
    editor.close()
    sweeper.join(30)
    assert not sweeper.is_alive() and errors == []
    session.expire_all()
    posts = _thread_posts(session, priya)
    text = json.dumps([d.payload for d in posts], ensure_ascii=False)
    assert len(posts) == 2 and "Second version" in text and "First version" not in text


def _wait_until_blocked_or_done(engine: Engine, thread: threading.Thread) -> None:
    """Return once `thread` waits for a row lock held by another session (or has ended).
    Each look is its own transaction: PostgreSQL keeps one pg_stat_activity snapshot per
    transaction."""
    deadline = time.monotonic() + 30
    waiting = sql(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while thread.is_alive():
        with engine.connect() as conn:
            if conn.execute(waiting).scalar():
                return
        assert time.monotonic() < deadline, "the sweep neither ended nor waited for a lock"
        thread.join(0.01)
