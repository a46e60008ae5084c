"""Block Kit and chart for the control tower, and its rhythm declaration."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from metrics.charts import renderer
from metrics.config import OrgSettings
from rhythms.blocks import (
    actions,
    button,
    context,
    divider,
    fields,
    fmt_number,
    header,
    section,
    status_dot,
)
from rhythms.control_tower import Tower, control_tower
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext

EXPLAIN_ACTION = "explain_metric"


def _velocity_text(label: str, now_v: Any, before_v: Any, currency: str) -> str:
    if now_v.value is None:
        return f"*{label}* velocity: not enough closed deals to compute"
    text = f"*{label}* velocity {fmt_number(now_v.value, 'currency', currency)}/day"
    if now_v.note:  # 0% win rate: closed deals, none won
        text += f" ({now_v.note})"
    if before_v.value:
        change = now_v.value / before_v.value - 1
        arrow = "▲" if change > 0 else "▼" if change < 0 else "▶"
        text += f" {arrow} {change:+.0%} WoW"
    return text


def tower_message(tower: Tower) -> dict[str, Any]:
    cur = tower.currency
    month = tower.coverage_month
    # coverage is of the month we are in: named when the tower's day was in another
    cover = f"Coverage ({month:%b})" if month and month != tower.day.replace(day=1) else "Coverage"
    blocks: list[dict[str, Any]] = [header(f"Control tower · {tower.day:%a %b %-d}")]
    if tower.attention:
        blocks.append(section("*Needs attention*\n" + "\n".join(f"• {a}" for a in tower.attention)))
    for line in tower.teams:
        blocks.append(divider())
        share = f" · {line.input_share:.0%} of input pace" if line.input_share is not None else ""
        blocks.append(section(f"*{line.team_name}*{share}"))
        items = [
            f"{status_dot(status)} *{label}*\n{fmt_number(value, unit, cur)}"
            + (f" / {fmt_number(pace, unit, cur)}" if pace is not None else "")
            for label, value, pace, status, unit in line.inputs[:6]
        ]
        target = (
            f" of {fmt_number(line.bookings_target, 'currency', cur)}"
            if line.bookings_target
            else ""
        )
        items.append(f"*Bookings MTD*\n{fmt_number(line.bookings_mtd, 'currency', cur)}{target}")
        if line.coverage is not None:
            items.append(f"*{cover}*\n{line.coverage:.1f}×")
        else:  # nothing left to cover: no target, or the month's target already made
            target_now = line.coverage_target if month else line.bookings_target
            why = "target met" if target_now else "no bookings target"
            items.append(f"*{cover}*\nn/a ({why})")
        blocks.append(fields(items[:10]))
        velocity = _velocity_text("Team", line.velocity, line.velocity_before, cur)
        if line.lever and line.lever_change is not None:
            way = "rose" if line.lever_change > 0 else "fell"
            velocity += (
                f" · {way} mostly on *{line.lever}* ({math.exp(line.lever_change) - 1:+.0%})"
            )
        delta = line.calls_yesterday - line.calls_day_before
        blocks.append(
            context(
                velocity,
                f"Calls {fmt_number(line.calls_yesterday)} ({delta:+.0f} vs the day before)",
            )
        )
    blocks.append(divider())
    blocks.append(
        section(_velocity_text("Org", tower.org_velocity, tower.org_velocity_before, cur))
    )
    if tower.flags:
        lines = [f"• *{f.person}* ({f.team_name}): {f.kind} — {f.detail}" for f in tower.flags[:12]]
        more = f"\n…and {len(tower.flags) - 12} more" if len(tower.flags) > 12 else ""
        blocks.append(section("*Coaching flags (last 7 days)*\n" + "\n".join(lines) + more))
    blocks.append(
        actions(
            button("How is this computed?", EXPLAIN_ACTION, "control_tower"),
            block_id="control_tower_actions",
        )
    )
    lagging = tower.attention[0] if tower.attention else "all teams on pace"
    return {
        "text": f"Control tower {tower.day:%b %-d}: {lagging}".replace("*", ""),
        "blocks": blocks[:50],
    }


def tower_chart(tower: Tower, org: OrgSettings) -> bytes | None:
    """Team inputs as a share of pace (100% = on pace), coloured in the org's status bands."""
    paced = [ln for ln in tower.teams if ln.input_share is not None]
    if not paced:
        return None
    return renderer().team_bars(
        f"Team inputs vs pace · {tower.day:%a %b} {tower.day.day}",
        [ln.team_name for ln in paced],
        [ln.input_share or 0.0 for ln in paced],
        targets=[1.0] * len(paced),
        bands=org,
        unit="percent",
    )


def control_tower_spec() -> RhythmSpec:
    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        day = ctx.calendar.previous_working_day(ctx.local_day)
        tower = control_tower(ctx.session, config=ctx.config, day=day, now=ctx.now)
        payload = tower_message(tower)
        png = tower_chart(tower, ctx.config.org)
        targets = [r.slack_user_id for r in recipients if r.slack_user_id]
        if ctx.rhythm.channel:
            targets.append(ctx.rhythm.channel)
        out = []
        for target in dict.fromkeys(targets):
            out.append(Outgoing(recipient=target, payload=payload))
            if png is not None:
                out.append(
                    Outgoing(
                        recipient=target,
                        kind="upload",
                        part="chart",
                        thread_part="main",
                        payload={
                            "filename": f"control-tower-{day}.png",
                            "title": f"Team inputs vs pace, {day:%b} {day.day}",
                            "content_base64": base64.b64encode(png).decode(),
                        },
                    )
                )
        return out

    return RhythmSpec(
        kind="control_tower",
        compose=compose,
        description="Team inputs and outputs vs target, velocity levers, flags",
    )
