from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from metrics.lookup import Scope, metric_value
from metrics.models import MetricDaily, Person
from rhythms.config import load_org_config
from rhythms.maple import save_reply
from rhythms.monthly_review import monthly_review
from rhythms.monthly_review_message import month_pack, review_charts, review_message
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
OCT = dt.date(2026, 10, 1)


def test_review_figures_equal_the_metrics_engine(session: Session) -> None:
    apply_directory(session, CFG, today=OCT)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for i, name in enumerate(("chloe", "diego", "emma")):
        person = people[name]
        for day in (3, 10, 17):
            when = OCT.replace(day=day + i)
            for metric, value in (
                ("bookings", 20000.0 * (i + 1)),
                ("deals_won", 1.0),
                ("deals_lost", 1.0),
                ("meetings_held", 4.0),
                ("opportunities_created", 2.0),
                ("calls", 15.0),
            ):
                session.add(
                    MetricDaily(
                        person_id=person.id, metric=metric, day=when, value=value, team_key="ae"
                    )
                )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W42",
        person_id=people["tom"].id,
        answers={"advanced": "Closed Initech", "planned": "- QBR"},
        submit=True,
        now=dt.datetime(2026, 10, 16, 20, tzinfo=dt.UTC),
    )
    session.commit()
    review = monthly_review(session, config=CFG, month=OCT)
    org = {line.metric: line for line in review.org}
    expected = metric_value(
        session,
        config=CFG,
        metric="bookings",
        scope=Scope.org(),
        start=OCT,
        end=dt.date(2026, 10, 31),
    ).value
    assert org["bookings"].value == expected == 3 * (20000 + 40000 + 60000)
    assert (
        org["win_rate"].value
        == metric_value(
            session,
            config=CFG,
            metric="win_rate",
            scope=Scope.org(),
            start=OCT,
            end=dt.date(2026, 10, 31),
        ).value
        == 0.5
    )
    assert review.performers[0].name == "Emma Schmidt"  # top closer credited by name
    ae = next(t for t in review.teams if t.team_key == "ae")
    assert any(line.metric == "calls" for line in ae.inputs)
    message = review_message(review)
    assert validate_blocks(message["blocks"]) == []
    assert "Emma Schmidt" in str(message["blocks"])
    charts = review_charts(review)
    assert [title for title, _ in charts][:2] == ["Bookings this month", "Funnel"]
    assert all(png.startswith(b"\x89PNG") for _, png in charts)
    pdf = month_pack(session, review, charts)
    assert (
        pdf.startswith(b"%PDF")
        and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 1
    )
    assert b"Drumbeat monthly pack October 2026" in pdf or len(pdf) > 10_000
