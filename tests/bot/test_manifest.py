"""manifest.yml and the code agree: every slash command and event the code listens to is in
the manifest, and the manifest declares nothing the code does not handle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.app import AppHooks
from bot.listeners import register_all
from metrics.clock import SystemClock
from rhythms.config import load_org_config
from tests.conftest import EXAMPLE_CONFIG, ROOT


class Recorder:
    """Stands in for the Bolt app and records what gets registered."""

    def __init__(self) -> None:
        self.commands: set[str] = set()
        self.events: set[str] = set()
        self.actions: set[str] = set()
        self.views: set[str] = set()

    def _record(self, into: set[str], name: Any) -> Callable[[Any], Any]:
        into.add(str(name))
        return lambda handler: handler

    def command(self, name: str) -> Callable[[Any], Any]:
        return self._record(self.commands, name)

    def event(self, name: str) -> Callable[[Any], Any]:
        return self._record(self.events, name)

    def action(self, name: str) -> Callable[[Any], Any]:
        return self._record(self.actions, name)

    def view(self, name: str) -> Callable[[Any], Any]:
        return self._record(self.views, name)


def test_manifest_matches_registered_listeners() -> None:
    manifest = yaml.safe_load(Path(ROOT / "manifest.yml").read_text())
    recorder = Recorder()
    register_all(
        recorder,
        session_factory=None,
        clock=SystemClock(),  # type: ignore[arg-type]
        config=load_org_config(EXAMPLE_CONFIG),
        tasks=None,
        hooks=AppHooks(),
    )
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert declared == recorder.commands
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == recorder.events
    assert manifest["settings"]["interactivity"]["is_enabled"] is bool(recorder.actions)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    urls = {c["url"] for c in manifest["features"]["slash_commands"]}
    urls |= {
        manifest["settings"]["interactivity"]["request_url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
    }
    assert all(url.endswith("/slack/events") for url in urls)  # the one HTTP endpoint


def test_manifest_scopes_cover_the_methods_used() -> None:
    manifest = yaml.safe_load(Path(ROOT / "manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "chat:write",
        "commands",
        "users:read",
        "users:read.email",
        "files:write",
        "im:write",
        "im:history",
        "channels:history",
    }
    assert needed <= scopes
