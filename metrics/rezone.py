"""A person whose time zone changes needs their history placed on their new local days.

Rollups put each record on the local day of its owner's person, so a rep who moves from
Chicago to Berlin (a config `timezone`, or a new Slack profile zone) has rollups computed in
the old zone. `mark_rezoned` writes `rollup_dirty` marks for every UTC day that holds one of
the person's records, and for its neighbours: the refresh then recomputes every local day an
old-zone row can sit on (a record of UTC day U is on local day U-1, U or U+1 in any zone; the
marks U-1..U+1 expand to at least those local days in the new zone), in the same transaction
as the change, so a crash in between loses nothing. The next `refresh_rollups` (every sync)
does the work.

A change of the org's default zone (`org.timezone`) is not detected here: the previous value
is not stored. Run `drumbeat rollups rebuild` after changing it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.crm.store import mark_dirty
from metrics.models import Activity, CrmUser, Deal

_NEIGHBOURS = (dt.timedelta(days=-1), dt.timedelta(0), dt.timedelta(days=1))


def mark_rezoned(session: Session, person_ids: Iterable[int]) -> int:
    """Mark every UTC day (± 1) of the people's CRM records dirty; how many marks were due."""
    people = sorted(set(person_ids))
    if not people:
        return 0
    owners = list(session.scalars(select(CrmUser.id).where(CrmUser.person_id.in_(people))))
    if not owners:
        return 0
    stamps = (
        select(Activity.owner_id, Activity.occurred_at, Activity.booked_at).where(
            Activity.owner_id.in_(owners)
        ),
        select(Deal.owner_id, Deal.created_at, Deal.closed_at).where(Deal.owner_id.in_(owners)),
    )
    days: set[tuple[int, dt.date]] = set()
    for query in stamps:
        for owner, *moments in session.execute(query):
            for moment in moments:
                if owner is not None and moment is not None:
                    day = moment.astimezone(dt.UTC).date()
                    days.update((owner, day + step) for step in _NEIGHBOURS)
    mark_dirty(session, days)
    return len(days)
