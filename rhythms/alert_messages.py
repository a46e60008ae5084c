"""Alert messages: one grouped post per rule and recipient, updated in place as things change.

"5 SDRs have no calls by 11:00" rather than five pings. Each line carries the number, the
threshold and the trend; buttons acknowledge, snooze or open the scoreboard. When subjects
resolve or someone acknowledges, the same message is rewritten (``chat.update``) from the
current state, so everyone sees one truth and nobody is pinged again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rhythms.blocks import (
    actions,
    button,
    chunk_lines,
    context,
    fmt_number,
    header,
    section,
    sparkline,
)

ACK_ACTION = "alert_ack"
SNOOZE_HOUR_ACTION = "alert_snooze_1h"
SNOOZE_DAY_ACTION = "alert_snooze_today"
OPEN_SCOREBOARD_ACTION = "alert_open_scoreboard"
SEVERITY_ICON = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
MAX_LINES = 40


@dataclass(frozen=True)
class AlertLine:
    subject: str  # "person:12" | "team:sdr" | "org"
    name: str  # "Dana Ruiz" or "SDR team"
    value: float | None
    threshold: str  # human text: "60% of pace (36)", "0 by 11:00"
    trend: tuple[float, ...] = ()
    state: str = "firing"  # firing | resolved
    acked_by: str | None = None


@dataclass(frozen=True)
class AlertGroup:
    rule: str
    severity: str
    title: str  # "SDRs with no calls by 11:00"
    metric_label: str
    unit: str
    lines: tuple[AlertLine, ...]


def alert_message(group: AlertGroup) -> tuple[str, list[dict[str, Any]]]:
    """Notification text and blocks for a grouped alert, reflecting each subject's state."""
    firing = [line for line in group.lines if line.state == "firing"]
    icon = SEVERITY_ICON.get(group.severity, "⚠️")
    if firing:
        count = len(firing)
        title = f"{icon} {group.title}" if count == 1 else f"{icon} {count} · {group.title}"
    else:
        title = f"✅ Resolved · {group.title}"
    text = title if len(firing) != 1 else f"{title}: {firing[0].name}"
    rendered = []
    for line in group.lines[:MAX_LINES]:
        value = "–" if line.value is None else fmt_number(line.value, group.unit)
        mark = "✅ ~" if line.state == "resolved" else "• "
        end = "~" if line.state == "resolved" else ""
        trend = f"  `{sparkline(line.trend)}`" if line.trend else ""
        ack = f"  _ack <@{line.acked_by}>_" if line.acked_by else ""
        rendered.append(
            f"{mark}*{line.name}*: {group.metric_label} {value} "
            f"(threshold {line.threshold}){end}{trend}{ack}"
        )
    if len(group.lines) > MAX_LINES:
        rendered.append(f"…and {len(group.lines) - MAX_LINES} more")
    blocks: list[dict[str, Any]] = [header(title)]
    blocks += [section(chunk) for chunk in chunk_lines(rendered)]
    if firing:
        subject = firing[0].subject if len(firing) == 1 else "group"
        value = f"{group.rule}|{subject}"
        blocks.append(
            actions(
                button("Acknowledge", ACK_ACTION, value, style="primary"),
                button("Snooze 1h", SNOOZE_HOUR_ACTION, value),
                button("Snooze today", SNOOZE_DAY_ACTION, value),
                button("Open scoreboard", OPEN_SCOREBOARD_ACTION, value),
                block_id=f"alert:{group.rule}"[:255],
            )
        )
    acked = sorted({line.acked_by for line in group.lines if line.acked_by})
    footer = f"Rule `{group.rule}`"
    if acked:
        footer += " · acknowledged by " + ", ".join(f"<@{who}>" for who in acked)
    blocks.append(context(footer))
    return text, blocks


def parse_action_value(value: str) -> tuple[str, str]:
    """(rule, subject) from a button value; ValueError when malformed."""
    rule, sep, subject = value.partition("|")
    if not sep or not rule or not subject:
        raise ValueError(f"malformed alert action value {value!r}")
    return rule, subject
