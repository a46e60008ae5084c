"""`metrics.store.raw_rows`: driver rows of a Core SELECT, literals quoted by SQLAlchemy."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import MetricDaily, Person
from metrics.store import raw_rows


def test_raw_rows_equal_the_orm_rows_and_quote_their_literals(session: Session) -> None:
    person = Person(email="o@acme.test", name="O'Brien", role="rep")
    session.add(person)
    session.flush()
    day = dt.date(2026, 11, 23)
    for metric, value in (("calls", 3.0), ("it's", 2.5), ("emails", 1.0)):
        session.add(MetricDaily(person_id=person.id, metric=metric, day=day, value=value))
    session.flush()
    query = (
        select(MetricDaily.person_id, MetricDaily.metric, MetricDaily.value)
        .where(MetricDaily.metric.in_(["calls", "it's", "x'); DROP TABLE people; --"]))
        .where(MetricDaily.day >= day, MetricDaily.day <= day)
        .order_by(MetricDaily.metric)
    )
    rows = raw_rows(session.connection(), query)
    assert rows == [tuple(r) for r in session.execute(query)]
    assert rows == [(person.id, "calls", 3.0), (person.id, "it's", 2.5)]
    assert session.scalar(select(Person.name)) == "O'Brien"  # the table is still there
