"""The review's "what predicts bookings" and stage conversion sections, checked against
numbers computed here independently (R² as the squared correlation, counts by hand)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.config import PipelineConfig
from metrics.directory import apply_directory
from metrics.models import DealStageChange, MetricDaily, Person
from rhythms.config import OrgConfig, load_org_config
from rhythms.monthly_review import monthly_review
from rhythms.monthly_review_message import review_message
from tests.conftest import EXAMPLE_CONFIG
from tests.metrics.builders import Org

CFG = load_org_config(EXAMPLE_CONFIG)
OCT = dt.date(2026, 10, 1)
# Oct 31 2026 is a Saturday: the 12 whole ISO weeks end on Sunday Oct 25, start Monday Aug 3
FIRST_MONDAY = dt.date(2026, 8, 3)
HEAD = "*What predicts bookings* (per rep per week, 12 weeks 3 Aug – 25 Oct 2026;"


def _reps(session: Session) -> list[Person]:
    apply_directory(session, CFG, today=dt.date(2026, 7, 1))
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    return [people[name] for name in ("chloe", "diego", "emma")]


def _put(session: Session, person: Person, metric: str, day: dt.date, value: float) -> None:
    session.add(
        MetricDaily(
            person_id=person.id, metric=metric, day=day, value=value, team_key=person.team_key
        )
    )


def _weeks(session: Session, reps: list[Person], weeks: int) -> dict[str, list[float]]:
    """One rep-week per (rep, week) from Monday Aug 3 on; returns the columns written."""
    rng = np.random.default_rng(7)
    cols: dict[str, list[float]] = {"bookings": [], "meetings_held": [], "calls": [], "emails": []}
    for week in range(weeks):
        for rep in reps:
            held = float(rng.integers(1, 12))
            calls = float(rng.integers(20, 80))
            emails = float(rng.integers(5, 40))
            booked = 4000 * held + 150 * calls + float(rng.integers(0, 30000))
            monday = FIRST_MONDAY + dt.timedelta(weeks=week)
            # spread over the week: the analysis sums a rep's ISO week
            _put(session, rep, "meetings_held", monday, held)
            _put(session, rep, "calls", monday + dt.timedelta(days=2), calls)
            _put(session, rep, "emails", monday + dt.timedelta(days=3), emails)
            _put(session, rep, "bookings", monday + dt.timedelta(days=4), booked)
            for name, value in (
                ("bookings", booked),
                ("meetings_held", held),
                ("calls", calls),
                ("emails", emails),
            ):
                cols[name].append(value)
    return cols


def _text(session: Session) -> tuple[str, list[dict[str, object]]]:
    review = monthly_review(session, config=CFG, month=OCT)
    blocks = review_message(review)["blocks"]
    assert validate_blocks(blocks) == []
    return str(blocks), blocks


def _r2(x: list[float], y: list[float]) -> float:
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def test_top_predictors_with_fit_over_the_trailing_whole_weeks(session: Session) -> None:
    reps = _reps(session)
    cols = _weeks(session, reps, 8)  # 3 reps × 8 weeks = 24 rep-weeks
    # outside the window: the Sunday before it and the month's last, partial week
    _put(session, reps[0], "bookings", dt.date(2026, 8, 2), 90000)
    _put(session, reps[1], "meetings_held", dt.date(2026, 10, 27), 50)
    session.commit()
    text, _ = _text(session)
    y = cols["bookings"]
    expected = sorted(
        ((name, _r2(cols[name], y)) for name in ("meetings_held", "calls", "emails")),
        key=lambda item: -item[1],
    )
    labels = {"meetings_held": "Meetings held", "calls": "Calls", "emails": "Emails"}
    lines = [f"• {labels[name]} — R² {r2:.2f} over 24 rep-weeks" for name, r2 in expected]
    assert HEAD in text
    assert "\\n".join(lines) in text  # in order, best first
    assert expected[0][0] == "meetings_held" and expected[0][1] > 0.3
    assert "too few to trust" not in text and "Not enough data" not in text


def test_small_sample_warning_is_shown(session: Session) -> None:
    reps = _reps(session)[:2]
    cols = _weeks(session, reps, 6)  # 12 rep-weeks: enough to show, too few to trust
    session.commit()
    text, blocks = _text(session)
    r2 = _r2(cols["meetings_held"], cols["bookings"])
    assert f"• Meetings held — R² {r2:.2f} over 12 rep-weeks" in text
    warning = "only 12 rep-weeks: too few to trust, treat as a hint"
    (context,) = [b for b in blocks if b["type"] == "context" and warning in str(b)]
    assert context


def test_not_enough_data_says_so_without_numbers(session: Session) -> None:
    reps = _reps(session)[:2]
    _weeks(session, reps, 2)  # 4 rep-weeks
    session.commit()
    text, _ = _text(session)
    assert (
        HEAD + " how closely each input tracks it, not what causes it)\\n"
        "Not enough data to say: only 4 rep-weeks of data (at least 10 needed), "
        "so no fit is shown."
    ) in text
    assert "R²" not in text and "too few to trust" not in text
    # and no deal this month: one line for the stage conversion too
    assert "No deal created in October 2026 has a stage history yet." in text


def _history(session: Session, deal_id: int, *stages: str) -> None:
    for i, stage in enumerate(stages):
        entered = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC) + dt.timedelta(days=i)
        session.add(DealStageChange(deal_id=deal_id, stage=stage, entered_at=entered))


def test_stage_conversion_of_the_months_cohort(session: Session) -> None:
    org = Org(session, CFG, dt.date(2026, 7, 1))
    chloe = next(name for name in org.owner if name.startswith("chloe."))
    oct5 = dt.datetime(2026, 10, 5, 15, tzinfo=dt.UTC)
    closed = dt.datetime(2026, 10, 28, 15, tzinfo=dt.UTC)
    demo = "demo & pricing"  # CRM text: escaped
    won = org.deal(chloe, oct5, amount=1000, closed=closed, won=True)
    _history(session, won.id, "qualification", demo, "proposal", "closedwon")
    lost = org.deal(chloe, oct5, amount=1000, closed=closed)
    _history(session, lost.id, "qualification", demo, "closedlost")
    _history(session, org.deal(chloe, oct5).id, "qualification")
    _history(session, org.deal(chloe, oct5).id, "qualification", demo)
    org.deal(chloe, oct5)  # no stage yet: created only
    # left out: an unmapped CRM owner's deal, and a September deal
    _history(session, org.deal("ghost", oct5).id, "qualification", demo, "proposal")
    september = org.deal(chloe, dt.datetime(2026, 9, 20, 15, tzinfo=dt.UTC))
    _history(session, september.id, "qualification", demo, "proposal")
    session.commit()
    text, _ = _text(session)
    assert (
        "*Stage conversion* · deals created in October 2026, by stage reached "
        "(% of the step before)\\n"
        "5 created → qualification 4 (80%) → demo &amp; pricing 3 (75%) → proposal 1 (33%)"
    ) in text
    assert "closedwon" not in text and "closedlost" not in text


def test_configured_stages_fix_a_pipedrive_cohort(session: Session) -> None:
    """Pipedrive keeps a won or lost deal in its last open stage: every deal that entered
    Negotiation closed there, so the inferred order takes it for a closing stage and drops
    it. `[pipeline] stages` shows it, and a listed stage no deal reached shows 0."""
    org = Org(session, CFG, dt.date(2026, 7, 1))
    chloe = next(name for name in org.owner if name.startswith("chloe."))
    oct5 = dt.datetime(2026, 10, 5, 15, tzinfo=dt.UTC)
    closed = dt.datetime(2026, 10, 28, 15, tzinfo=dt.UTC)
    for _ in range(2):  # lost in Negotiation, which stays their stage
        deal = org.deal(chloe, oct5, amount=1000, closed=closed)
        _history(session, deal.id, "Qualified", "Demo", "Proposal", "Negotiation")
    _history(session, org.deal(chloe, oct5, amount=1000, closed=closed).id, "Qualified", "Demo")
    _history(session, org.deal(chloe, oct5).id, "Qualified", "Demo", "Proposal")
    _history(session, org.deal(chloe, oct5).id, "Qualified")
    session.commit()
    inferred = _stage_section(session, CFG)
    # inferred: Qualified 5, Demo 4 (not the last one), Proposal 3 (the two lost + one open)
    assert inferred == "5 created → Qualified 5 (100%) → Demo 4 (80%) → Proposal 3 (75%)"
    stages = ("Qualified", "Demo", "Proposal", "Negotiation", "Contract")
    configured = CFG.model_copy(update={"pipeline": PipelineConfig(stages=stages)})
    # Negotiation 2 of Proposal's 3; Contract 0: no deal was won or went further
    assert _stage_section(session, configured) == (
        "5 created → Qualified 5 (100%) → Demo 4 (80%) → Proposal 3 (75%) → "
        "Negotiation 2 (67%) → Contract 0 (0%)"
    )


def _stage_section(session: Session, cfg: OrgConfig) -> str:
    """The stage conversion section's line of steps."""
    review = monthly_review(session, config=cfg, month=OCT)
    blocks = review_message(review)["blocks"]
    assert validate_blocks(blocks) == []
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    (section,) = [t for t in texts if t.startswith("*Stage conversion*")]
    return str(section).split("\n", 1)[1]
