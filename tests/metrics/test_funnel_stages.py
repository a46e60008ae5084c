"""The stage funnel's order: `[pipeline] stages` from the config, else inferred from the
deals' histories; and the stages stored deals entered, for `check-config --crm`. Counts are
worked out by hand in the comments, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from metrics.config import PipelineConfig
from metrics.funnel import StageOrder, StageUsage, funnel_stages, stage_funnel, stages_entered
from metrics.models import DealStageChange
from tests.metrics.builders import Org, config

NOV = dt.date(2026, 11, 1)
END = dt.date(2026, 11, 30)
PIPEDRIVE = ("Qualified", "Demo", "Proposal", "Negotiation")


def utc(day: int, hour: int = 15, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def _history(session: Session, deal_id: int, *stages: str, day: int = 6, month: int = 11) -> None:
    for i, stage in enumerate(stages):
        entered = utc(day + i, month=month)
        session.add(DealStageChange(deal_id=deal_id, stage=stage, entered_at=entered))


def _pipedrive_deals(org: Org) -> None:
    """November deals as Pipedrive stores them: a won or lost deal keeps its last open
    stage (no closed-won/lost stage in its history)."""
    closed = utc(25)
    for won in (True, False):  # A (won) and B (lost), both closed in Negotiation
        deal = org.deal("sam", utc(5), amount=100, closed=closed, won=won)
        _history(org.session, deal.id, *PIPEDRIVE)
    c = org.deal("sam", utc(5), amount=100, closed=closed)  # C: lost in Demo
    _history(org.session, c.id, "Qualified", "Demo")
    d = org.deal("sam", utc(5), amount=100)  # D: open in Proposal
    _history(org.session, d.id, "Qualified", "Demo", "Proposal")
    for _ in range(4):  # E–H: inbound deals that start straight at Proposal, open
        _history(org.session, org.deal("sam", utc(5), amount=100).id, "Proposal")
    org.session.flush()


def test_inference_misorders_and_drops_a_pipedrive_pipeline(session: Session) -> None:
    cfg = config()
    _pipedrive_deals(Org(session, cfg, NOV))
    order = funnel_stages(session, config=cfg, start=NOV, end=END)
    # mean positions: Qualified 0 (A–D); Demo 1 (A–D); Proposal (2+2+2+0+0+0+0)/7 = 0.86,
    # so before Demo; Negotiation: both deals that entered it (A, B) closed there, so it
    # looks like a closing stage and is left out
    assert order == StageOrder(("Qualified", "Proposal", "Demo"), "inferred")
    (cohort,) = stage_funnel(session, config=cfg, stages=order.stages, start=NOV, end=END)
    # depths in that order: A won → all; B, C, D entered Demo (index 2); E–H Proposal (1)
    # → Qualified 8, Proposal 8, Demo 4: "8 deals qualified" though only 4 entered it
    assert [s.count for s in cohort.steps] == [8, 8, 8, 4]


def test_the_configured_order_is_used_exactly(session: Session) -> None:
    cfg = config(pipeline=PipelineConfig(stages=(*PIPEDRIVE, "Contract")))
    _pipedrive_deals(Org(session, cfg, NOV))
    order = funnel_stages(session, config=cfg, start=NOV, end=END)
    assert order == StageOrder((*PIPEDRIVE, "Contract"), "config")
    (cohort,) = stage_funnel(session, config=cfg, stages=order.stages, start=NOV, end=END)
    # depths: A won → Contract (4); B Negotiation (3); C Demo (1); D and E–H Proposal (2).
    # Qualified 8, Demo 8 (all but none: every deal reached Demo or later), Proposal 7
    # (not C), Negotiation 2 (A, B), Contract 1 (A: a won deal reached every stage)
    assert [s.label for s in cohort.steps] == ["Created", *PIPEDRIVE, "Contract"]
    assert [s.count for s in cohort.steps] == [8, 8, 8, 7, 2, 1]
    assert [s.conversion for s in cohort.steps[1:]] == pytest.approx([1, 1, 7 / 8, 2 / 7, 1 / 2])


def test_a_listed_stage_no_deal_reached_shows_zero(session: Session) -> None:
    cfg = config(pipeline=PipelineConfig(stages=("Qualified", "Demo", "Legal")))
    org = Org(session, cfg, NOV)
    _history(session, org.deal("sam", utc(5), amount=100).id, "Qualified", "Demo")
    _history(session, org.deal("sam", utc(5), amount=100).id, "Qualified")
    session.flush()
    stages = funnel_stages(session, config=cfg, start=NOV, end=END).stages
    (cohort,) = stage_funnel(session, config=cfg, stages=stages, start=NOV, end=END)
    assert [(s.label, s.count) for s in cohort.steps] == [
        ("Created", 2),
        ("Qualified", 2),
        ("Demo", 1),
        ("Legal", 0),
    ]
    assert cohort.steps[-1].conversion == 0


def test_stages_entered_counts_deals_and_spots_won_lost_stages(session: Session) -> None:
    org = Org(session, config(), NOV)
    _pipedrive_deals(org)
    # HubSpot-like: a closedwon stage (any owner counts, any creation month)
    hubspot = org.deal("ghost", utc(3, month=10), amount=100, closed=utc(20, month=10), won=True)
    _history(session, hubspot.id, "Qualified", "closedwon", day=9, month=10)
    lost = org.deal("sam", utc(3, month=10), amount=100, closed=utc(20, month=10))
    _history(session, lost.id, "Qualified", "closedlost", day=1, month=10)
    gone = org.deal("sam", utc(5), amount=100, deleted=True)  # deleted deals are not read
    _history(session, gone.id, "Zombie")
    session.flush()
    # Qualified: A–D (Nov 6) and the two HubSpot deals (Oct 9, Oct 1): last entered Nov 6
    # Negotiation: A won and B lost there → mixed outcomes, not a won/lost stage
    assert stages_entered(session) == [
        StageUsage("Proposal", 7, utc(8), None),
        StageUsage("Qualified", 6, utc(6), None),
        StageUsage("Demo", 4, utc(7), None),
        StageUsage("Negotiation", 2, utc(9), None),
        StageUsage("closedlost", 1, utc(2, month=10), "lost"),
        StageUsage("closedwon", 1, utc(10, month=10), "won"),
    ]
