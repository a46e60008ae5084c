"""The team scoreboard's "needs help" from real rollups: a rep far behind on one input is
red and listed, although their other input is on pace (before, points averaged across
inputs made them yellow: "0 need help" while alerts paged their manager about them)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import parse_org_config
from rhythms.scoreboard import MetricsScoreboards, team_chart
from rhythms.scoreboard_command import scoreboard_reply
from rhythms.scoreboard_leaders import org_message
from tests.support.rhythms import org_data

# Wed 25 Nov 2026, 17:45 in New York, 16:45 in Chicago, 14:45 in Los Angeles (09:00–18:00)
NOW = dt.datetime(2026, 11, 25, 22, 45, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 25)
# (calls, meetings booked) today against 60 and 2 a day. Due by now (whole counts):
# Dana, Aisha (Chicago, 7.75/9 of the day): 51 calls, 1 meeting; Leo (New York, 8.75/9):
# 58 and 1; Chloe (Los Angeles, 5.75/9): 38 and 1.
DONE = {"dana": (55, 2), "aisha": (45, 1), "leo": (14, 2), "chloe": (0, 1)}


def _seed(session: Session) -> dict[str, Person]:
    cfg = parse_org_config(org_data())
    apply_directory(session, cfg, today=dt.date(2026, 1, 1))
    session.flush()
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
    for name, (calls, meetings) in DONE.items():
        for metric, value in (("calls", calls), ("meetings_booked", meetings)):
            if value:
                session.add(
                    MetricDaily(
                        person_id=people[name].id,
                        metric=metric,
                        day=DAY,
                        value=value,
                        team_key="sdr",
                    )
                )
    session.flush()
    return people


def test_a_rep_red_on_one_input_needs_help(session: Session) -> None:
    people = _seed(session)
    cfg = parse_org_config(org_data())
    reply = scoreboard_reply(session, config=cfg, viewer=people["maria"], text="sdr", now=NOW)
    # Dana green (both on pace); Aisha green (45/51 = 88% yellow, meetings green: half
    # green); Leo red (14/58 = 24%); Chloe red (0/38), although both booked their meeting
    assert reply["text"] == "SDR scoreboard Wed 25 Nov: 2 of 4 reps winning, 2 need help"
    flat = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "🟢 2  🟡 0  🔴 2" in flat
    assert "*Needs help:*\\n• Leo Martin: calls 14/60\\n• Chloe Wu: calls 0/60" in flat
    assert "🔴 Chloe Wu — 1/2 on pace · calls 0/60" in flat
    assert "🟢 Aisha Khan — 1/2 on pace · calls 45/60" in flat

    boards = MetricsScoreboards().team_scoreboards(
        session, config=cfg, team_key="sdr", day=DAY, as_of=NOW
    )
    org = org_message("Acme", [("SDR", boards)], DAY)
    assert org["text"] == "Acme scoreboard Wed 25 Nov: 2 of 4 reps winning"
    assert "🟢 2  🟡 0  🔴 2" in json.dumps(org["blocks"], ensure_ascii=False)

    chloe = next(b for b in boards if b.name == "Chloe Wu")
    own = scoreboard_reply(session, config=cfg, viewer=people["chloe"], text="", now=NOW)
    assert own["text"].startswith("🔴 Behind: 1 of 2 inputs on pace")
    assert chloe.metrics[0].expected_now == 38  # the pace the comment above works out


def test_the_team_chart_colours_each_bar_as_the_reps_dot(session: Session) -> None:
    """The bars were coloured by the average share of pace against hard-coded 80/100%:
    Leo's (24% and 200%: 112%) green although his dot is red, Aisha's (88% and 100%: 94%)
    yellow although hers is green. Now each bar is the rep's verdict, values in %."""
    from metrics.charts import STATUS_COLOURS, renderer

    _seed(session)
    cfg = parse_org_config(org_data())
    boards = MetricsScoreboards().team_scoreboards(
        session, config=cfg, team_key="sdr", day=DAY, as_of=NOW
    )
    assert team_chart("SDR", boards, DAY) is not None
    pool = renderer()._slots["bars"].bars
    assert pool is not None
    shown = {
        pool.names[i].get_text(): (pool.values[i].get_text(), pool.rects[i].get_facecolor())
        for i in range(len(boards))
    }
    colour = {name: face for name, (_, face) in shown.items()}
    assert colour["Aisha"] == colour["Dana"] == _rgba(STATUS_COLOURS["green"])
    assert colour["Leo"] == colour["Chloe"] == _rgba(STATUS_COLOURS["red"])
    # Dana: calls 55/51 = 108%, meetings 2/1 = 200%: (108 + 200) / 2 = 154%
    assert shown["Dana"][0] == "154%"
    assert shown["Aisha"][0] == "94%"  # (45/51 = 88% + 100%) / 2
    assert shown["Leo"][0] == "112%"  # (14/58 = 24% + 2/1 = 200%) / 2


def _rgba(hex_colour: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(hex_colour)
