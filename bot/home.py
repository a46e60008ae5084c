"""App Home: what a person sees on Drumbeat's Home tab.

For now: who Drumbeat thinks they are (name, role, team) and the rhythms that reached them
lately (from the outbox), with a pointer to `/drumbeat help`. The scoreboard and switchboard
grow into this view with the rhythm issues. `home_view` is pure (tested against the Block Kit
limits); `load_home` reads the database; `publish_home` does both and calls `views.publish`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import Person, Team
from rhythms.models import Delivery

RECENT = 8


@dataclass(frozen=True)
class HomeData:
    user_id: str
    name: str | None
    role: str | None
    team: str | None
    recent: tuple[tuple[str, dt.datetime], ...]  # (rhythm, sent_at), newest first


def load_home(session: Session, *, user_id: str) -> HomeData:
    person = session.scalars(select(Person).where(Person.slack_user_id == user_id)).first()
    team = session.get(Team, person.team_key) if person and person.team_key else None
    rows = session.execute(
        select(Delivery.rhythm, Delivery.sent_at)
        .where(Delivery.recipient == user_id, Delivery.status == "sent")
        .order_by(Delivery.sent_at.desc())
        .limit(RECENT)
    ).all()
    return HomeData(
        user_id=user_id,
        name=person.name if person else None,
        role=person.role if person else None,
        team=team.name if team else None,
        recent=tuple((r.rhythm, r.sent_at) for r in rows if r.sent_at is not None),
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab view for `data` (a `views.publish` view object)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Drumbeat"}},
    ]
    if data.name is None:
        blocks.append(
            _section(
                "I don't know you yet: ask your RevOps admin to add your email to "
                "`drumbeat.toml` (or run the Slack directory sync)."
            )
        )
    else:
        where = f" on *{data.team}*" if data.team else ""
        blocks.append(_section(f"Hi *{data.name}* — {data.role}{where}."))
    blocks.append({"type": "divider"})
    if data.recent:
        lines = [f"• *{rhythm}* — {when:%a %d %b %H:%M} UTC" for rhythm, when in data.recent]
        blocks.append(_section("*Lately from Drumbeat*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("Nothing sent to you yet. Your rhythms will show up here."))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Type `/drumbeat help` for commands."}],
        }
    )
    return {"type": "home", "callback_id": "drumbeat_home", "blocks": blocks}


async def publish_home(
    client: AsyncWebClient, session_factory: sessionmaker[Session], *, user_id: str
) -> dict[str, Any]:
    def load() -> HomeData:
        with session_factory() as session:
            return load_home(session, user_id=user_id)

    view = home_view(await asyncio.to_thread(load))
    await client.views_publish(user_id=user_id, view=view)
    return view
