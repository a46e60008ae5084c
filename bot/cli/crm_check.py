"""`drumbeat check-config --crm`: CRM owners in the store that map to no configured person."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import console, database_error, open_session
from bot.settings import Settings
from metrics.directory import unmatched_owners
from rhythms.config import OrgConfig


def report_unmatched_owners(settings: Settings, cfg: OrgConfig) -> int:
    try:
        with open_session(settings) as session:
            owners = unmatched_owners(session)
    except SQLAlchemyError as exc:
        return database_error(settings, exc, "drumbeat migrate` and `drumbeat sync")
    if not owners:
        console.print("[green]ok[/] every synced CRM owner maps to a person")
        return 0
    console.print(
        f"[yellow]{len(owners)} CRM owner(s) map to no person[/] "
        "(add them to people[] or set people[].crm_owner_ids / crm_email):"
    )
    for user in owners:
        state = "active" if user.active else "inactive"
        console.print(
            f"  {user.source}:{user.external_id}  {user.email or '(no email)'}  "
            f"{user.name or ''}  [{state}]",
            markup=False,
        )
    return 1 if any(u.active for u in owners) else 0
