"""Export a week's MAPLE updates as CSV or Markdown (`drumbeat export maple`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person, Team
from rhythms.maple import week_bounds, week_label
from rhythms.maple_digest import LETTERS
from rhythms.models import Reply

FIELDS = (
    "person",
    "email",
    "team",
    "status",
    "submitted_at",
    "updated_at",
    *(key for key, _ in LETTERS),
    "advanced_done",
)


@dataclass(frozen=True)
class ExportRow:
    person: str
    email: str
    team: str
    status: str
    submitted_at: str
    updated_at: str
    answers: dict[str, str]
    advanced_done: str


def export_rows(session: Session, *, rhythm: str, period_key: str) -> list[ExportRow]:
    """Every stored reply for the week (drafts included, marked), sorted by team and name."""
    week_bounds(period_key)  # validates the key
    query = (
        select(Reply, Person, Team)
        .join(Person, Person.id == Reply.person_id)
        .outerjoin(Team, Team.key == Person.team_key)
        .where(Reply.rhythm == rhythm, Reply.period_key == period_key)
    )
    rows = []
    for reply, person, team in session.execute(query):
        answers = {key: str(reply.answers.get(key) or "") for key, _ in LETTERS}
        done = reply.answers.get("advanced_done") or []
        rows.append(
            ExportRow(
                person=person.name,
                email=person.email,
                team=team.name if team else "",
                status=reply.status,
                submitted_at=reply.submitted_at.isoformat() if reply.submitted_at else "",
                updated_at=reply.updated_at.isoformat(),
                answers=answers,
                advanced_done=";".join(str(d) for d in done),
            )
        )
    return sorted(rows, key=lambda r: (r.team, r.person))


def to_csv(rows: list[ExportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow(
            [
                row.person,
                row.email,
                row.team,
                row.status,
                row.submitted_at,
                row.updated_at,
                *(row.answers[k] for k, _ in LETTERS),
                row.advanced_done,
            ]
        )
    return out.getvalue()


def to_markdown(rows: list[ExportRow], *, period_key: str) -> str:
    lines = [f"# MAPLE updates · {week_label(period_key)}", ""]
    if not rows:
        lines.append("_No updates stored for this week._")
    team = None
    for row in rows:
        if row.team != team:
            team = row.team
            lines += [f"## {team or 'No team'}", ""]
        status = "" if row.status == "submitted" else " (draft, not submitted)"
        lines += [f"### {row.person}{status}", ""]
        for key, letter in LETTERS:
            text = row.answers[key].strip()
            if text:
                lines += [f"**{letter}** — {text}", ""]
    return "\n".join(lines).rstrip() + "\n"
