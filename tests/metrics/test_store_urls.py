"""`metrics.store.redacted` and `database_url_problem`: no secret of a database URL is shown,
and URLs the store cannot use are named as such."""

from __future__ import annotations

import pytest

from metrics.store import database_url_problem, redacted


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
    ],
)
def test_database_url_problem_accepts_the_supported_urls(url: str) -> None:
    assert database_url_problem(url) is None
