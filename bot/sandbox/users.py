"""Seed the sandbox workspace: users and channels from the org config, or a generated org.

`seed_from_config` gives every configured person a Slack user (their configured
`slack_user_id`, else a stable generated one), a time zone (their override, else the org's),
and creates the team, leadership and admin channels with the bot in them.
`generate_users(state, 10_000)` makes a large org for benchmarks, with zones spread around
the world, a few deactivated users and a few bots (which directory sync must skip).
"""

from __future__ import annotations

import hashlib
import random

from bot.sandbox.state import SandboxState
from rhythms.config import OrgConfig

ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
)


def user_id_for(email: str) -> str:
    """A stable sandbox user id for an email (U + 10 hex-derived characters)."""
    return "U" + hashlib.sha1(email.lower().encode()).hexdigest()[:10].upper()


def seed_from_config(state: SandboxState, cfg: OrgConfig) -> dict[str, str]:
    """Users and channels for the org config; returns email -> Slack user id."""
    ids: dict[str, str] = {}
    for person in cfg.people:
        user_id = person.slack_user_id or user_id_for(person.email)
        state.add_user(
            user_id,
            name=person.email.split("@")[0],
            real_name=person.name,
            email=person.email,
            tz=person.timezone or cfg.org.timezone,
            deleted=not person.active,
        )
        ids[person.email] = user_id
    for team in cfg.teams:
        if team.channel and not team.channel.startswith(("C", "G")):
            members = [ids[p.email] for p in cfg.people if p.team == team.key]
            state.add_channel(team.channel, members=members)
    for channel in (cfg.slack.admin_channel, cfg.slack.leadership_channel):
        if channel and channel.startswith("#"):
            state.add_channel(channel)
    return ids


def generate_users(
    state: SandboxState,
    count: int,
    *,
    seed: int = 7,
    domain: str = "bigco.example",
    deleted_every: int = 97,
    bot_every: int = 211,
) -> list[str]:
    """`count` users person0000@domain... with spread time zones; returns the user ids.

    Every `deleted_every`-th user is deactivated and every `bot_every`-th is a bot.
    """
    rng = random.Random(seed)
    ids = []
    for i in range(count):
        email = f"person{i:05d}@{domain}"
        user_id = user_id_for(email)
        state.add_user(
            user_id,
            name=f"person{i:05d}",
            real_name=f"Person {i:05d}",
            email=email,
            tz=rng.choice(ZONES),
            deleted=deleted_every > 0 and i % deleted_every == deleted_every - 1,
            is_bot=bot_every > 0 and i % bot_every == bot_every - 1,
        )
        ids.append(user_id)
    return ids
