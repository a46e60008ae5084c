"""Helpers shared by CLI subcommands: settings, the org config, the console, the database."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from bot.settings import Settings
from rhythms.config import ConfigError, OrgConfig, load_org_config

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def load_settings() -> Settings:
    return Settings()


def load_config_or_exit(path: Path | None, settings: Settings | None = None) -> OrgConfig:
    """Load and validate the org config; print every problem and exit 2 if it is bad."""
    chosen = path or (settings or load_settings()).config_path
    try:
        return load_org_config(chosen)
    except ConfigError as exc:
        print_config_error(exc)
        sys.exit(2)


def print_config_error(exc: ConfigError) -> None:
    err_console.print(f"[bold red]{exc.source}[/]: {len(exc.problems)} problem(s)")
    for path, message in exc.problems:
        err_console.print(f"  [yellow]{path or '(file)'}[/]: {message}", markup=True)
