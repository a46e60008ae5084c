"""`drumbeat check-config --crm` with `[pipeline] stages`: the listed stages against the
stages the stored deals entered (`metrics.funnel.stages_entered`).

What they disagree on is printed as warnings, not errors: the review still runs. A listed
stage no deal entered shows 0 in the stage conversion (a new stage, or a misspelt one: the
closest stage deals did enter is suggested); an open stage deals entered that is not listed
is not a step of it (those deals count up to the listed stages they passed). Stages that look
like won/lost stages (every deal that entered them ended there, closed, all with the same
outcome: HubSpot's `closedwon`) need no listing and are named on one line.
"""

from __future__ import annotations

import difflib

from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import console, database_error, open_session
from bot.settings import Settings
from metrics.funnel import StageUsage, stages_entered
from rhythms.config import OrgConfig


def report_stage_list(settings: Settings, cfg: OrgConfig) -> int:
    """Print how `[pipeline] stages` and the stored deals' stages differ; 1 only when the
    database cannot be read."""
    try:
        with open_session(settings) as session:
            entered = stages_entered(session)
    except SQLAlchemyError as exc:
        return database_error(settings, exc, "drumbeat migrate` and `drumbeat sync")
    listed = cfg.pipeline.stages or ()
    if not entered:
        console.print(
            "[yellow]warning:[/] pipeline.stages: no stored deal has a stage history to "
            "check the list against (run `drumbeat sync`)"
        )
        return 0
    warnings, closing = stage_list_findings(listed, entered)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if closing:
        console.print(escape(closing))
    if not warnings:
        console.print(
            f"[green]ok[/] pipeline.stages: {len(listed)} stages; every open stage the stored "
            "deals entered is listed"
        )
    return 0


def stage_list_findings(
    listed: tuple[str, ...], entered: list[StageUsage]
) -> tuple[list[str], str | None]:
    """Warnings (listed stages no deal entered, open stages entered but not listed) and
    one line naming the unlisted stages taken as won/lost stages (None: there are none)."""
    unlisted = [u for u in entered if u.stage not in listed]
    names = [u.stage for u in unlisted]
    seen = {u.stage for u in entered}
    warnings = []
    for i, stage in enumerate(listed):
        if stage in seen:
            continue
        same = [n for n in names if n.casefold() == stage.casefold()]
        close = same or difflib.get_close_matches(stage, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        warnings.append(f"pipeline.stages[{i}]: no stored deal entered {stage!r}{hint}")
    for usage in unlisted:
        if usage.ends_as is None:
            deals = "1 deal" if usage.deals == 1 else f"{usage.deals} deals"
            warnings.append(
                f"pipeline.stages: {usage.stage!r} is not listed but {deals} entered it "
                f"(last on {usage.last_entered.date().isoformat()}): the stage conversion "
                "counts them only up to the listed stages they passed"
            )
    closing = [f"{u.stage!r} ({u.deals} {u.ends_as})" for u in unlisted if u.ends_as is not None]
    if not closing:
        return warnings, None
    return warnings, (
        "not listed, taken as won/lost stages (every deal that entered them ended there, "
        f"closed, all won or all lost): {', '.join(closing)}"
    )
