"""What the sandbox Slack holds: users, channels (and DMs), messages, ephemerals, views, files.

`SandboxState` is thread-safe (one lock), so a test thread can read it while the server's
event loop writes it. Tests read it through the query methods (`messages`, `dm_messages`,
`ephemerals`, `home_view`, `open_views`, `files`), never by poking at the dicts.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "UBOTDRUMBEAT"
BOT_ID = "BDRUMBEAT"
TEAM_ID = "T0DRUMBEAT"


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    user: str | None = None  # the other party of a DM
    members: set[str] = field(default_factory=set)
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


class SandboxState:
    """The workspace. Ids are deterministic (C000001, D000002...), ts strictly increasing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # seconds since the epoch, for message ts (the demo shifts it)
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # response_url posts
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (modals)
        self.home: dict[str, dict[str, Any]] = {}  # user id -> published home view
        self.files: dict[str, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self._dms: dict[str, str] = {}  # user id -> DM channel id (a post never scans)
        self._names: dict[str, str] = {}  # channel name -> id (checked against the channel)
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self.add_user(BOT_USER_ID, name="drumbeat", is_bot=True)

    # -- ids -------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def new_ts(self) -> str:
        """A message ts like Slack's: wall-clock seconds.micros, unique and increasing."""
        with self.lock:
            self._last_ts = max(self.clock(), self._last_ts + 1e-6)
            return f"{self._last_ts:.6f}"

    # -- seeding ---------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        email: str | None = None,
        tz: str = "America/New_York",
        deleted: bool = False,
        is_bot: bool = False,
        real_name: str | None = None,
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name or name,
            "deleted": deleted,
            "is_bot": is_bot,
            "tz": tz,
            "profile": {"email": email, "real_name": real_name or name, "display_name": name},
        }
        with self.lock:
            self.users[user_id] = user
        return user

    def add_channel(
        self, name: str, *, members: list[str] | None = None, bot_member: bool = True
    ) -> str:
        """Create a public channel; the bot is a member unless `bot_member` is False."""
        with self.lock:
            existing = self.channel_by_name(name)
            if existing is not None:
                return existing.id
            channel = Channel(id=self.new_id("C"), name=name.lstrip("#"))
            channel.members.update(members or [])
            if bot_member:
                channel.members.add(BOT_USER_ID)
            self.channels[channel.id] = channel
            self._names.setdefault(channel.name, channel.id)
            return channel.id

    def channel_by_name(self, name: str) -> Channel | None:
        """The first conversation called `name` (with or without '#'), through an index
        checked against the channel itself (a test may rename one): no scan of every DM."""
        with self.lock:
            wanted = name.lstrip("#")
            indexed = self.channels.get(self._names.get(wanted, ""))
            if indexed is not None and indexed.name == wanted:
                return indexed
            found = next((c for c in self.channels.values() if c.name == wanted), None)
            if found is not None:
                self._names[wanted] = found.id
            return found

    def dm_with(self, user_id: str) -> Channel:
        """The app DM with `user_id`, opened on first use (O(1): DMs are indexed by user)."""
        with self.lock:
            known = self.channels.get(self._dms.get(user_id, ""))
            if known is not None and known.is_im and known.user == user_id:
                return known
            channel = Channel(id=self.new_id("D"), name=user_id, is_im=True, user=user_id)
            channel.members.update({user_id, BOT_USER_ID})
            self.channels[channel.id] = channel
            self._dms[user_id] = channel.id
            self._names.setdefault(channel.name, channel.id)
            return channel

    # -- queries for tests -----------------------------------------------------------------
    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level and threaded messages in a channel (id or #name), oldest first."""
        with self.lock:
            found = self.channels.get(channel) or self.channel_by_name(channel)
            return copy.deepcopy(found.messages) if found else []

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.dm_with(user_id).messages)

    def all_messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(copy.deepcopy(m), channel=c.id)
                for c in self.channels.values()
                for m in c.messages
            ]

    def ephemerals(self, user_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = self.ephemeral + [r for r in self.responses if r.get("ephemeral")]
            return copy.deepcopy([e for e in items if user_id in (None, e.get("user"))])

    def response_posts(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.responses)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            view = self.home.get(user_id)
            return copy.deepcopy(view) if view else None

    def open_views(self, user_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            views = [v for v in self.views.values() if user_id in (None, v.get("user"))]
            return copy.deepcopy(views)

    def uploaded_files(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy([f for f in self.files.values() if f.get("completed")])
