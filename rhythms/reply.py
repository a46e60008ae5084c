"""What a `/drumbeat` or `/velocity` service answers: text, blocks, and what the bot should
do besides (post it in the channel, start a sync). Nothing here calls Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rhythms.blocks import section


@dataclass
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False
    start_sync: bool = False  # the bot should start a CRM sync in the background


def text_reply(text: str) -> Reply:
    """A reply of one section."""
    return Reply(text, [section(text)])
