from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from metrics.models import Activity, CrmUser, SyncRun
from metrics.store import make_engine, make_session_factory
from tests.conftest import EXAMPLE_CONFIG
from tests.support.fake_crm.hubspot import FakeHubSpot
from tests.support.fake_crm.pipedrive import FakePipedrive
from tests.support.fake_crm.salesforce import FakeSalesforce

CRM_VARIABLES = ("HUBSPOT_", "PIPEDRIVE_", "SALESFORCE_")
CANARY = "canary-credential"  # part of every wrong value: must never be printed


def test_sync_demo_source_loads_maps_owners_and_summarises(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "demo")
    assert main(["sync", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "activities" in out and "ok" in out and "synced demo" in out
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        users = session.scalars(select(CrmUser).where(CrmUser.source == "demo")).all()
        mapped = [u for u in users if u.person_id is not None]
        assert len(mapped) == len(users) - 1  # all but the departed rep, Diego via crm_email
        assert any(u.email == "d.alvarez@acme-sales.example" and u.person_id for u in users)
        assert session.scalar(select(Activity.id).limit(1)) is not None
        assert session.scalars(select(SyncRun.status)).all() == ["ok"]
    engine.dispose()
    assert main(["sync", "--config", str(EXAMPLE_CONFIG)]) == 0  # incremental: nothing new
    assert "synced demo" in capsys.readouterr().out


def test_sync_reports_missing_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    assert main(["sync", "--source", "hubspot", "--config", str(EXAMPLE_CONFIG)]) == 2
    assert "HUBSPOT_TOKEN" in capsys.readouterr().err


@pytest.fixture
def crm_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CRM variable from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(CRM_VARIABLES):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    ("source", "env", "named"),
    [
        ("hubspot", {"HUBSPOT_TOKEN": f"pat-na1-{CANARY}\n-rest"}, "the HubSpot token"),
        ("pipedrive", {"PIPEDRIVE_TOKEN": f"{CANARY} pasted twice"}, "the Pipedrive API token"),
        (
            "salesforce",
            {
                "SALESFORCE_INSTANCE_URL": "http://127.0.0.1:1",
                "SALESFORCE_CLIENT_ID": "client-id",
                "SALESFORCE_CLIENT_SECRET": "client-secret",
                "SALESFORCE_REFRESH_TOKEN": f"r\u00e9fresh-{CANARY}",
            },
            "the Salesforce refresh token",
        ),
    ],
)
def test_sync_names_the_variable_of_a_malformed_credential(
    source: str,
    env: dict[str, str],
    named: str,
    tmp_path: Path,
    crm_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    crm_env.setenv("DRUMBEAT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    for name, value in env.items():
        crm_env.setenv(name, value)
    assert main(["sync", "--source", source, "--config", str(EXAMPLE_CONFIG)]) == 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    variable = next(name for name in env if name.endswith("TOKEN"))
    assert f"{named} (env {variable}) contains a space, control or non-ASCII character" in output
    assert CANARY not in output


@contextmanager
def refusing_crm(source: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The source's fake CRM, configured with a credential it refuses: (the variable that
    holds it, the fake's real secret)."""
    wrong = f"wrong-{CANARY}"
    if source == "hubspot":
        with FakeHubSpot() as hubspot:
            monkeypatch.setenv("HUBSPOT_API_URL", hubspot.url)
            monkeypatch.setenv("HUBSPOT_TOKEN", wrong)
            yield "HUBSPOT_TOKEN", hubspot.token
    elif source == "pipedrive":
        with FakePipedrive() as pipedrive:
            monkeypatch.setenv("PIPEDRIVE_API_URL", pipedrive.url)
            monkeypatch.setenv("PIPEDRIVE_TOKEN", wrong)
            yield "PIPEDRIVE_TOKEN", pipedrive.token
    else:
        with FakeSalesforce() as salesforce:
            monkeypatch.setenv("SALESFORCE_INSTANCE_URL", salesforce.url)
            monkeypatch.setenv("SALESFORCE_TOKEN_URL", f"{salesforce.url}/services/oauth2/token")
            monkeypatch.setenv("SALESFORCE_CLIENT_ID", "client-id")
            monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", salesforce.client_secret)
            monkeypatch.setenv("SALESFORCE_REFRESH_TOKEN", wrong)  # refused: 400 invalid_grant
            yield "SALESFORCE_REFRESH_TOKEN", salesforce.refresh_token


@pytest.mark.parametrize("source", ["hubspot", "pipedrive", "salesforce"])
def test_sync_names_the_variable_of_a_credential_the_crm_refuses(
    source: str,
    db_url: str,
    crm_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    crm_env.setenv("DRUMBEAT_DATABASE_URL", db_url)
    with refusing_crm(source, crm_env) as (variable, real_secret):
        code = main(["sync", "--source", source, "--config", str(EXAMPLE_CONFIG)])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == 1
    assert "sync failed" in output and f"(env {variable})" in output
    assert CANARY not in output and real_secret not in output
