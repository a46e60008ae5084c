"""`metrics.store.redacted` and `database_url_problem`: no secret of a database URL is shown,
and URLs the store cannot use are named as such. `make_engine` bounds a PostgreSQL connection
attempt unless the URL, the caller or PGCONNECT_TIMEOUT already does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from metrics.store import PG_CONNECT_TIMEOUT, database_url_problem, make_engine, redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db.example:5432/app", "postgresql://u:***@db.example:5432/app"),
        (
            "postgresql://u@127.0.0.1:1/db?password=secretpw",
            "postgresql://u@127.0.0.1:1/db?password=***",
        ),
        (
            "postgresql://u@h/db?sslmode=require&SSLPassword=secretpw&auth_token=secretpw",
            "postgresql://u@h/db?sslmode=require&SSLPassword=***&auth_token=***",
        ),
        ("postgresql://h/db?client_secret=se@cretpw", "postgresql://h/db?client_secret=***"),
        ("postgresql://u:secret@pw@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
        ("postgresql://u:se/cr?et@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@nohost:notaport/db", "postgresql://u:***@nohost:notaport/db"),
        ("sqlite:////home/me@corp/drumbeat.db", "sqlite:////home/me@corp/drumbeat.db"),
        ("not a url: secretpw", "***"),
    ],
)
def test_redacted_hides_passwords_and_secret_query_values(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "not a database URL"),
        ("postgresql://u:p@nohost:notaport/db", "the port must be a number"),
        ("postgresql://u:p@h:99999/db", "the port must be from 1 to 65535"),
        ("mysql://u:p@h/db", "unsupported database 'mysql' (mysql://u:***@h/db)"),
        ("postgresql://u:secret@pw@127.0.0.1:1/db", "percent-encode it as %40"),
        ("postgresql://u:se@c:ret@h/db", "percent-encode it as %40"),
        ("postgresql://u:p@h/db?connect_timeout=soon", "connect_timeout must be a whole number"),
        ("postgresql://u:p@h/db?connect_timeout=-1", "connect_timeout must be a whole number"),
    ],
)
def test_database_url_problem_names_the_problem_without_the_password(
    url: str, fragment: str
) -> None:
    problem = database_url_problem(url)
    assert problem is not None and fragment in problem
    assert "secret" not in problem and ":p@" not in problem


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///./drumbeat.db",
        "sqlite://",
        "postgres://u:p@h/db",
        "postgresql+psycopg://u:p%40ss@h:5432/db",
        "postgresql:///db?host=/var/run/postgresql",
        "postgresql://u:p@h/db?connect_timeout=3",
    ],
)
def test_database_url_problem_accepts_the_supported_urls(url: str) -> None:
    assert database_url_problem(url) is None


# Nothing listens on port 1: each attempt is refused at once, after the parameters are seen.
REFUSED = "postgresql://u@127.0.0.1:1/db"


@pytest.mark.parametrize(
    ("url", "connect_args", "env", "expected"),
    [
        (REFUSED, None, None, PG_CONNECT_TIMEOUT),  # the default: no hang for minutes
        (f"{REFUSED}?connect_timeout=3", None, None, "3"),  # the URL's own value
        (REFUSED, {"connect_timeout": 4}, None, 4),  # the caller's
        (REFUSED, None, "5", None),  # PGCONNECT_TIMEOUT: left for psycopg to read
    ],
)
def test_make_engine_bounds_the_connect_unless_a_timeout_is_chosen(
    url: str,
    connect_args: dict[str, Any] | None,
    env: str | None,
    expected: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    if env is not None:
        monkeypatch.setenv("PGCONNECT_TIMEOUT", env)
    engine = make_engine(url, **({"connect_args": connect_args} if connect_args else {}))
    seen: list[dict[str, Any]] = []
    event.listen(engine, "do_connect", lambda _d, _r, _a, params: seen.append(dict(params)))
    try:
        with pytest.raises(OperationalError, match="Connection refused"):
            engine.connect()
    finally:
        engine.dispose()
    assert seen and seen[0].get("connect_timeout") == expected
