"""`/scoreboard`: which day a board is for when the viewer, the team and the org live in
different zones."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.directory import apply_directory
from metrics.models import Person
from metrics.scoreboard import PersonScoreboard
from rhythms.config import parse_org_config
from rhythms.scoreboard_command import scoreboard_reply
from tests.support.rhythms import FakeScoreboards, org_data

# Tue 24 Nov 11:30 in Sydney; still Mon 23 Nov 19:30 in New York (the org's zone).
NOW = dt.datetime(2026, 11, 24, 0, 30, tzinfo=dt.UTC)


class Recording(FakeScoreboards):
    """The fake source, remembering the day each team board was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.days: list[dt.date] = []

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]:
        self.days.append(day)
        return super().team_scoreboards(
            session, config=config, team_key=team_key, day=day, as_of=as_of
        )


def test_team_scoreboard_is_for_the_viewers_today(session: Session) -> None:
    data = org_data()
    data["org"]["transparent_scoreboards"] = True
    for person in data["people"]:
        if person["email"] in ("dana@acme.example", "aisha@acme.example"):
            person["timezone"] = "Australia/Sydney"
    cfg = parse_org_config(data)
    apply_directory(session, cfg, today=dt.date(2026, 1, 1))
    session.flush()
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}

    source = Recording()
    reply = scoreboard_reply(
        session, config=cfg, viewer=people["dana"], text="sdr", now=NOW, source=source
    )
    assert source.days == [dt.date(2026, 11, 24)]  # Dana's today in Sydney, not New York's
    assert "SDR scoreboard · Tue 24 Nov" in json.dumps(reply["blocks"], ensure_ascii=False)
    assert reply["text"].startswith("SDR scoreboard Tue 24 Nov:")

    source = Recording()
    reply = scoreboard_reply(
        session, config=cfg, viewer=people["maria"], text="sdr", now=NOW, source=source
    )
    assert source.days == [dt.date(2026, 11, 23)]  # Maria is in New York: still Monday
    assert "Mon 23 Nov" in reply["text"]

    own = scoreboard_reply(session, config=cfg, viewer=people["dana"], text="", now=NOW)
    assert "Tue 24 Nov" in json.dumps(own["blocks"], ensure_ascii=False)
