"""The review's plan numbers agree with each other and say how they were computed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.charts import ChartRenderer, compact, renderer
from metrics.config import CurrencyConfig, PipelineConfig, TargetSet
from metrics.directory import apply_directory
from metrics.lookup import Scope, metric_value
from metrics.models import MetricDaily, Person
from rhythms.config import OrgConfig, load_org_config
from rhythms.explain import TOPICS, explain_blocks
from rhythms.monthly_review import Line, monthly_review
from rhythms.monthly_review_message import _line, review_charts, review_message
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
OCT = dt.date(2026, 10, 1)
OCT31 = dt.date(2026, 10, 31)


def _put(session: Session, person: Person, metric: str, day: dt.date, value: float) -> None:
    session.add(
        MetricDaily(
            person_id=person.id, metric=metric, day=day, value=value, team_key=person.team_key
        )
    )


def _people(session: Session) -> dict[str, Person]:
    apply_directory(session, CFG, today=dt.date(2026, 7, 1))
    return {p.email.split(".")[0]: p for p in session.scalars(select(Person))}


def _tom_has_a_quota() -> OrgConfig:
    people = tuple(
        p.model_copy(update={"targets": {"bookings": TargetSet(monthly=100000)}})
        if p.email.startswith("tom.")
        else p
        for p in CFG.people
    )
    return CFG.model_copy(update={"people": people})


def _text(message: dict[str, object]) -> str:
    return str(message["blocks"])


def test_growth_target_is_the_reviews_bookings_target(session: Session) -> None:
    """A manager's own quota (Tom's, on AE) is not in the growth model's target any more
    than in the bookings line: both are the reps' $440k a normal month."""
    people = _people(session)
    for day in range(1, 29):
        _put(session, people["chloe"], "meetings_held", OCT.replace(day=day), 2)
    _put(session, people["chloe"], "opportunities_created", OCT.replace(day=5), 20)
    _put(session, people["chloe"], "deals_won", OCT.replace(day=6), 4)
    _put(session, people["chloe"], "deals_lost", OCT.replace(day=6), 6)
    _put(session, people["chloe"], "bookings", OCT.replace(day=6), 100000)
    _put(session, people["chloe"], "bookings.n", OCT.replace(day=6), 4)
    session.commit()
    review = monthly_review(session, config=_tom_has_a_quota(), month=OCT)
    booked = next(line for line in review.org if line.metric == "bookings")
    # October has 21 working days of 22 weekdays (Columbus Day): (3 × 120k + 2 × 40k) × 21/22
    assert booked.target == 420000
    # the growth model plans November, 19 working days of 21: the same reps' 440k × 19/21
    assert review.growth.month.target == review.growth.month.naive
    assert review.growth.month.naive == pytest.approx(440000 * 19 / 21)
    g = review.growth
    # the chain the inputs needed were computed with is printed with its window
    text = _text(review_message(review))
    chain = (
        f"at {g.meeting_to_opportunity:.0%} meeting→opp × {g.win_rate:.0%} win rate × "
        f"$25k average deal, trailing 90 days"
    )
    assert chain in text
    assert (g.win_rate, g.avg_deal_size) == (0.4, 25000)


def test_bookings_chart_ends_at_the_headline(session: Session) -> None:
    """The cumulative chart counts what the headline counts: the org's rows, a manager's
    own deal and a former rep's included."""
    people = _people(session)
    _put(session, people["chloe"], "bookings", OCT.replace(day=3), 10000)
    _put(session, people["tom"], "bookings", OCT.replace(day=9), 50000)  # the AE manager
    session.commit()
    review = monthly_review(session, config=CFG, month=OCT)
    headline = metric_value(
        session, config=CFG, metric="bookings", scope=Scope.org(), start=OCT, end=OCT31
    ).value
    assert sum(review.daily_bookings) == headline == 60000
    assert len(review.daily_bookings) == 31


def test_excluded_won_deals_and_percent_changes_are_said(session: Session) -> None:
    people = _people(session)
    sep = dt.date(2026, 9, 10)
    for day, won, lost in ((sep, 1, 4), (OCT.replace(day=10), 3, 7)):
        _put(session, people["emma"], "deals_won", day, won)
        _put(session, people["emma"], "deals_lost", day, lost)
    _put(session, people["emma"], "bookings", OCT.replace(day=10), 30000)
    _put(session, people["emma"], "bookings.n", OCT.replace(day=10), 1)
    _put(session, people["emma"], "bookings.excluded", OCT.replace(day=10), 2)
    session.commit()
    review = monthly_review(session, config=CFG, month=OCT)
    org = {line.metric: line for line in review.org}
    assert org["bookings"].excluded == 2
    text = _text(review_message(review))
    assert "(2 won deals without a usable amount not counted)" in text
    assert "*Win rate* 30% (+10 pts MoM)" in text  # 20% → 30%: points, not +50%
    one = Line("bookings", "Bookings", "currency", 5.0, None, None, "none", excluded=1)
    assert _line(one, "USD").endswith("(1 won deal without a usable amount not counted)")
    rate = Line("win_rate", "Win rate", "percent", 0.25, None, 0.0, "none")
    assert _line(rate, "USD").endswith("25% (+25 pts MoM)")


def test_zero_win_rate_review_says_so(session: Session) -> None:
    people = _people(session)
    for day in range(1, 29):
        _put(session, people["farah"], "meetings_held", OCT.replace(day=day), 1)
    _put(session, people["farah"], "opportunities_created", OCT.replace(day=5), 10)
    _put(session, people["farah"], "deals_lost", OCT.replace(day=20), 5)
    session.commit()
    review = monthly_review(session, config=CFG, month=OCT)
    assert review.growth.month.projected_bookings == 0.0
    assert review.velocity.value == 0.0
    text = _text(review_message(review))
    assert "Not enough history" not in text
    assert "projected $0 vs target" in text
    assert "No number of meetings makes" in text
    assert "*Revenue velocity* $0/day" in text and "no deal won: 5 closed, all lost" in text


def test_review_charts_use_the_reporting_currency_and_show_reps_times_quota(
    session: Session,
) -> None:
    people = _people(session)
    cfg = CFG.model_copy(update={"currency": CurrencyConfig(reporting="EUR", rates={})})
    for day in range(1, 29):
        _put(session, people["chloe"], "meetings_held", OCT.replace(day=day), 1)
    _put(session, people["chloe"], "opportunities_created", OCT.replace(day=5), 10)
    _put(session, people["chloe"], "deals_won", OCT.replace(day=6), 2)
    _put(session, people["chloe"], "bookings", OCT.replace(day=6), 40000)
    _put(session, people["chloe"], "bookings.n", OCT.replace(day=6), 2)
    session.commit()
    review = monthly_review(session, config=cfg, month=OCT)
    charts = review_charts(review)
    assert [title for title, _ in charts] == ["Bookings this month", "Funnel", "Growth model"]
    slots = renderer()._slots
    texts = [a.get_text() for a in slots["trend"].dynamic if hasattr(a, "get_text")]
    assert texts == ["- - target €420k"]  # 440k × 21/22: Columbus Day is off
    growth = [a.get_text() for a in slots["growth"].dynamic if hasattr(a, "get_text")]
    # next month's: November has 19 working days of 21 weekdays, 440k × 19/21 = 398.1k
    assert "reps × quota €398k" in growth
    assert compact(review.growth.month.projected_bookings or 0, "currency", "EUR") in growth
    assert not any("$" in t for t in growth)
    assert compact(16_000, "currency", "EUR") == "€16k"
    assert compact(16_000, "currency", "CHF") == "CHF 16k"
    assert ChartRenderer().growth("g", ["a"], [1.0], [None], [None]).startswith(b"\x89PNG")
    assert validate_blocks(review_message(review)["blocks"]) == []


def test_explain_says_whose_local_days() -> None:
    text = TOPICS["monthly_review"][1]
    assert "org's time zone" not in text
    assert "their own local days" in text


def test_explain_covers_the_reviews_stage_and_driver_sections() -> None:
    """The review shows stage conversion and 'What predicts bookings': its 'How is this
    computed?' says how both are made, and that R² is tracking, not causing."""
    text = TOPICS["monthly_review"][1]
    assert "Stage conversion" in text and "What predicts bookings" in text
    assert "12 whole weeks" in text and "not that it causes" in text


def test_explain_says_whether_the_stage_order_came_from_the_config() -> None:
    def stage_order_section(cfg: OrgConfig) -> str:
        _, blocks = explain_blocks(cfg, "monthly_review")
        assert validate_blocks(blocks) == [] and len(blocks) <= 50
        texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
        (text,) = [t for t in texts if "*Stage order*" in t]
        return str(text)

    inferred = stage_order_section(CFG)  # the example sets no [pipeline] stages
    assert inferred.startswith("*Stage order* inferred from the deals' stage histories")
    assert "`[pipeline] stages`" in inferred  # how to set it
    stages = PipelineConfig(stages=("Qualified", "Demo <b> & pricing", "Proposal"))
    configured = stage_order_section(CFG.model_copy(update={"pipeline": stages}))
    assert configured.startswith(
        "*Stage order* from `[pipeline] stages` in the org config: "
        "Qualified → Demo &lt;b&gt; &amp; pricing → Proposal."
    )
    assert "inferred" not in configured
    _, other = explain_blocks(CFG, "control_tower")
    assert not any("*Stage order*" in str(b) for b in other)
