"""Which bot-token OAuth scopes each Web API method needs, as Slack documents them.

From refs/slack/bot_methods_summary.json (``scopes.bot``, docs.slack.dev) and, for the
``conversations.*`` methods it lacks, refs/slack/slack_web_openapi_v2.json (``security``).
Where the scope depends on the kind of conversation (``conversations.list`` takes one per
requested type, ``conversations.history`` one for the channel read), `BY_CONVERSATION` has it
per type. The sandbox answers ``missing_scope`` from this table when it is given the token's
scopes, and tests/bot/test_manifest_scopes.py checks manifest.yml against it.

    needed_scopes("conversations.list", ["public_channel", "private_channel"])
    # {'channels:read', 'groups:read'}
"""

from __future__ import annotations

from collections.abc import Iterable

CONVERSATION_TYPES = ("public_channel", "private_channel", "im", "mpim")

# method -> scopes needed whatever the conversation (empty: none)
SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "users.list": frozenset({"users:read"}),
    "users.info": frozenset({"users:read"}),
    "users.lookupByEmail": frozenset({"users:read.email"}),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.publish": frozenset(),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "reactions.add": frozenset({"reactions:write"}),
}

_HISTORY = {
    "public_channel": "channels:history",
    "private_channel": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
# method -> conversation type -> the scope that type needs
BY_CONVERSATION: dict[str, dict[str, str]] = {
    "conversations.list": {
        "public_channel": "channels:read",
        "private_channel": "groups:read",
        "im": "im:read",
        "mpim": "mpim:read",
    },
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    "conversations.open": {
        "public_channel": "channels:manage",
        "private_channel": "groups:write",
        "im": "im:write",
        "mpim": "mpim:write",
    },
}


def known(method: str) -> bool:
    return method in SCOPES or method in BY_CONVERSATION


def needed_scopes(method: str, conversation_types: Iterable[str] = ()) -> set[str]:
    """The scopes a call to `method` needs on the given conversation types."""
    if method in BY_CONVERSATION:
        per_type = BY_CONVERSATION[method]
        return {per_type[t] for t in conversation_types if t in per_type}
    return set(SCOPES.get(method, frozenset()))
