"""The MAPLE digest posts only for a week people were asked about, and never stale: a week
whose prompt never went out (first install after Friday, an outage over the prompt) or a
digest later than the end of the next working day is recorded skipped, with the reason."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from rhythms.maple import save_reply
from rhythms.maple_rhythm import deadline_at, digest_cutoff, maple_followups
from rhythms.models import RhythmRun
from tests.rhythms.test_maple_rhythm import _answers, _config, _deliveries, _prompted, _setup, _utc

WEEK = "2026-W47"  # prompt Fri 20 Nov 14:00, deadline Mon 23 Nov 12:00 New York (17:00 UTC)


def _digest_run(session: Session) -> RhythmRun | None:
    return session.scalars(
        select(RhythmRun).where(RhythmRun.rhythm == "maple_digest", RhythmRun.period_key == WEEK)
    ).one_or_none()


def _admin_notices(session: Session) -> list[str]:
    return [
        d.payload["text"]
        for d in _deliveries(session, recipient="#revops-drumbeat")
        if d.rhythm == "maple_digest"
    ]


def test_no_digest_for_a_week_whose_prompt_never_went_out(session: Session) -> None:
    """The review's demo started on a Sunday: Friday's prompt never fired, so Monday's
    digest would read "0/3 updates" for a week nobody was asked about."""
    cfg = _config()
    _setup(session, cfg)
    for when in (_utc(23, 17, 5), _utc(23, 18)):  # Mon 12:05 and 13:00 New York
        assert maple_followups(session, config=cfg, now=when).digests == 0
        session.commit()
    assert _deliveries(session, period_key=f"digest:{WEEK}", rhythm="maple") == []
    run = _digest_run(session)
    assert run is not None and run.status == "skipped"
    assert "prompt never went out" in (run.error or "")
    (notice,) = _admin_notices(session)  # once, not every beat
    assert "did not post the maple digest for Week 47" in notice


def test_an_update_submitted_without_the_prompt_still_gets_its_digest(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    save_reply(
        session,
        rhythm="maple",
        period_key=WEEK,
        person_id=people["maria"].id,
        answers=_answers(),
        submit=True,
        now=_utc(23, 15),
    )
    session.commit()
    assert maple_followups(session, config=cfg, now=_utc(23, 17, 5)).digests > 0
    run = _digest_run(session)
    assert run is not None and run.status == "done"


def test_a_digest_posts_late_until_the_end_of_the_next_working_day(session: Session) -> None:
    """Deadline Mon 12:00 New York; the next working day is Tuesday, so the digest may post
    until Wed 00:00 EST (05:00 UTC)."""
    cfg = _config()
    _setup(session, cfg)
    _prompted(session)
    assert maple_followups(session, config=cfg, now=_utc(25, 4, 59)).digests > 0
    session.commit()
    run = _digest_run(session)
    assert run is not None and run.status == "done"


def test_a_digest_later_than_that_is_skipped_not_posted(session: Session) -> None:
    cfg = _config()
    _setup(session, cfg)
    _prompted(session)
    assert maple_followups(session, config=cfg, now=_utc(25, 5, 0)).digests == 0
    session.commit()
    assert _deliveries(session, period_key=f"digest:{WEEK}", rhythm="maple") == []
    run = _digest_run(session)
    assert run is not None and run.status == "skipped"
    assert (run.error or "").startswith("too late: due Mon 23 Nov 12:00 EST")
    (notice,) = _admin_notices(session)
    assert "not posted after the end of the next working day" in json.dumps(notice)


def test_the_cutoff_skips_weekends_and_holidays() -> None:
    cfg = _config()
    ny = dt.timezone(dt.timedelta(hours=-5))  # EST all November after the 1st
    # Monday's deadline → end of Tuesday
    deadline = deadline_at(cfg.rhythms["maple"], WEEK, cfg.org.timezone)
    assert deadline == dt.datetime(2026, 11, 23, 12, 0, tzinfo=ny)
    assert digest_cutoff(cfg, deadline) == dt.datetime(2026, 11, 25, 0, 0, tzinfo=ny)
    # a Friday deadline → end of Monday
    friday = dt.datetime(2026, 11, 20, 17, 0, tzinfo=ny)
    assert digest_cutoff(cfg, friday) == dt.datetime(2026, 11, 24, 0, 0, tzinfo=ny)
    # Wednesday before Thanksgiving (Thu 26 Nov) → end of Friday
    wednesday = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ny)
    assert digest_cutoff(cfg, wednesday) == dt.datetime(2026, 11, 28, 0, 0, tzinfo=ny)
