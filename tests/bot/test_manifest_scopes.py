"""manifest.yml asks for exactly the bot scopes the code needs: every Web API method the code
in bot/ calls, with the scopes Slack documents for it (`bot.sandbox.scopes`, from the refs),
plus the few scopes that are not a method's (slash commands, emails, public channels)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.sandbox.scopes import known, needed_scopes
from tests.conftest import ROOT

# the conversations the bot reads and writes: DMs (user ids), public and private channels
BOT_CONVERSATIONS = ("public_channel", "private_channel", "im")
# ...except where a call names fewer: bot/reconcile.py opens DMs only (a user id) and lists
# channels with types=public_channel,private_channel
CONVERSATIONS_BY_METHOD = {
    "conversations.open": ("im",),
    "conversations.list": ("public_channel", "private_channel"),
}
NOT_A_METHOD = {
    "commands": "the slash commands",
    "users:read.email": "users.list returns emails (people are matched by email)",
    "chat:write.public": "post in team channels without an invite",
}

_CALLS = (
    re.compile(r"""\.call\(\s*["']([a-z]+\.[A-Za-z.]+)["']"""),  # SlackCaller.call("x.y", ...)
    re.compile(r"""api_call\(\s*["']([a-z]+\.[A-Za-z.]+)["']"""),
    re.compile(r"""\bclient\.(?!api_call)([a-z]+)_([A-Za-z]+)\b"""),  # client.views_open(...)
)


def methods_called() -> dict[str, set[str]]:
    """Web API method -> the files of bot/ (sandbox excepted) that call it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        text = path.read_text()
        for pattern in _CALLS:
            for match in pattern.finditer(text):
                groups = [g for g in match.groups() if g]
                method = ".".join(groups) if len(groups) == 2 else groups[0]
                found.setdefault(method, set()).add(str(path.relative_to(ROOT)))
    return found


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load(Path(ROOT / "manifest.yml").read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_scan_finds_the_calls_we_know_of() -> None:
    called = methods_called()
    for method in ("chat.postMessage", "conversations.list", "conversations.history"):
        assert method in called
    assert "files.getUploadURLExternal" in called and "views.publish" in called


def test_every_method_called_has_its_scopes_in_the_manifest() -> None:
    scopes = manifest_scopes()
    unknown = sorted(m for m in methods_called() if not known(m))
    assert not unknown, f"add these methods' scopes to bot/sandbox/scopes.py: {unknown}"
    missing = {}
    for method, where in methods_called().items():
        kinds = CONVERSATIONS_BY_METHOD.get(method, BOT_CONVERSATIONS)
        lacking = needed_scopes(method, kinds) - scopes
        if lacking:
            missing[method] = (sorted(lacking), sorted(where))
    assert not missing, f"manifest.yml lacks scopes: {missing}"


def test_the_manifest_asks_for_nothing_the_code_does_not_use() -> None:
    used = set(NOT_A_METHOD)
    for method in methods_called():
        used |= needed_scopes(method, CONVERSATIONS_BY_METHOD.get(method, BOT_CONVERSATIONS))
    assert manifest_scopes() - used == set()
