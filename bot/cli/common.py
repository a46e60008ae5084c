"""Helpers shared by CLI subcommands: settings, the org config, the console, the database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.settings import Settings
from metrics.store import make_engine, make_session_factory, redacted
from rhythms.config import ConfigError, OrgConfig, load_org_config

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: object) -> None:
    """`message` in red on stderr, as is: it may echo what was typed, which is not markup."""
    err_console.print(str(message), style="red", markup=False, emoji=False)


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
    err_console.print(f"[bold red]{escape(str(exc.source))}[/]: {len(exc.problems)} problem(s)")
    for path, message in exc.problems:
        err_console.print(f"  [yellow]{escape(path or '(file)')}[/]: {escape(message)}")


@contextmanager
def open_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured database, disposed of afterwards."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def database_error(settings: Settings, exc: SQLAlchemyError, hint: str = "drumbeat migrate") -> int:
    """Say the database could not be read (its URL without the password) and return 1."""
    err_console.print(
        f"[red]cannot read {escape(redacted(settings.database_url))}:[/] {type(exc).__name__}; "
        f"run `{hint}` first"
    )
    return 1
