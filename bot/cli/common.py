"""Helpers shared by CLI subcommands: settings, the org config, the console, the database
(sessions and what to say when it fails), and argparse types for ports and database URLs."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session

from bot.settings import ENV_FILE, Settings, settings_problems
from metrics.store import (
    HIDDEN,
    database_url_problem,
    make_engine,
    make_session_factory,
    redacted,
)
from rhythms.config import ConfigError, OrgConfig, load_org_config

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: object) -> None:
    """`message` in red on stderr, as is: it may echo what was typed, which is not markup."""
    err_console.print(str(message), style="red", markup=False, emoji=False)


def load_settings() -> Settings | None:
    """The settings from the environment and `.env`, or None after printing one line per
    problem: the variable and what it expects, never its value (it may be a pasted secret)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = settings_problems(exc)
    except UnicodeDecodeError:
        problems = [f"{ENV_FILE}: not UTF-8 text; save it as UTF-8"]
    except OSError as exc:
        problems = [f"{ENV_FILE}: cannot read it ({type(exc).__name__})"]
    for problem in problems:
        print_error(problem)
    return None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError("must be a whole number from 0 to 65535 (0: any free)")
    return int(text)


def database_url(text: str) -> str:
    """An argparse type: a database URL the store can use (errors show it redacted)."""
    problem = database_url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def load_config_or_exit(path: Path | None, settings: Settings) -> OrgConfig:
    """Load and validate the org config; print every problem and exit 2 if it is bad."""
    chosen = path or settings.config_path
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
    """Say the database could not be reached or read (its URL without the password) and
    return 1."""
    if connection_failed(exc):
        print_error(cannot_reach(settings.database_url, exc))
        return 1
    err_console.print(
        f"[red]cannot read {escape(redacted(settings.database_url))}:[/] {type(exc).__name__}; "
        f"run `{hint}` first"
    )
    return 1


def connection_failed(exc: BaseException) -> bool:
    """`exc` says no connection to the database could be made or kept: refused, no answer
    within the connect timeout, unknown host, password refused, no such database. Not a
    statement's failure (a missing table: run the migrations), which names its SQL."""
    return isinstance(exc, (OperationalError, InterfaceError)) and exc.statement is None


def cannot_reach(url: str, exc: BaseException) -> str:
    """``cannot reach URL: Error: the driver's first line``, without any secret."""
    reason = safe_reason(exc, url)
    return f"cannot reach {redacted(url)}: {type(exc).__name__}" + (f": {reason}" if reason else "")


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_PASSWORD_PAIR = re.compile(r"(?i)(password\s*=\s*)(\'[^\']*\'|\"[^\"]*\"|\S+)")


def safe_reason(exc: BaseException, url: str) -> str:
    """The first line of the driver's message, at most 200 characters, with the password of
    `url`, every URL and every ``password=…`` in it hidden (a driver may quote them)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    line = lines[0] if lines else ""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        line = line.replace(str(password), HIDDEN)
    line = _URL_IN_TEXT.sub(lambda m: redacted(m.group(0)), line)
    line = _PASSWORD_PAIR.sub(lambda m: m.group(1) + HIDDEN, line)
    return line[:200]
