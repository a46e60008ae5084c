"""Alert messages: one grouped post per rule and recipient, updated in place as things change.

"5 SDRs have no calls by 11:00" rather than five pings. Each line carries the numbers
(`rhythms.alert_wording`: value, what was due, the share, the rule's threshold) and the
trend; then the next step, and for a recipient brought in by escalation why they get it;
buttons acknowledge, snooze or open the scoreboard. When subjects resolve, their day ends,
alerts are switched off or someone acknowledges, the same message is rewritten
(``chat.update``) from the current state, so everyone sees one truth and nobody is pinged
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rhythms.alert_wording import red_streak
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
    threshold: str  # messages written before `detail` existed: "60% of pace (36)"
    trend: tuple[float, ...] = ()
    state: str = "firing"  # firing | resolved | expired | stopped
    acked_by: str | None = None
    detail: str = ""  # "12 calls of 25 due by now (48%), 13 short — alert below 60%"
    red_days: int = 0  # working days in a row red before today (escalating rules)


@dataclass(frozen=True)
class AlertGroup:
    rule: str
    severity: str
    title: str  # "SDRs with no calls by 11:00"
    metric_label: str
    unit: str
    lines: tuple[AlertLine, ...]
    step: str = ""  # "*Next step:* …"
    why: str = ""  # for a recipient brought in by escalation


ENDED = {  # line state -> (mark, note); also the header when nothing is firing any more
    "resolved": ("✅", ""),
    "expired": ("🌙", "  _ended with the working day_"),
    "stopped": ("⏸", "  _alerts switched off or rule removed_"),
}
HEADERS = {"resolved": "Resolved", "expired": "Day over", "stopped": "Alerts off"}


def _line(line: AlertLine, group: AlertGroup) -> str:
    if line.detail:
        body = f"*{line.name}*: {line.detail}{red_streak(line.red_days)}"
    else:  # a message written before lines had their own text
        value = "–" if line.value is None else fmt_number(line.value, group.unit)
        body = f"*{line.name}*: {group.metric_label} {value} (threshold {line.threshold})"
    if line.state in ENDED:
        mark, note = ENDED[line.state]
        return f"{mark} ~{body}~{note}"
    return f"• {body}"


def alert_message(group: AlertGroup) -> tuple[str, list[dict[str, Any]]]:
    """Notification text and blocks for a grouped alert, reflecting each subject's state."""
    firing = [line for line in group.lines if line.state == "firing"]
    icon = SEVERITY_ICON.get(group.severity, "⚠️")
    if firing:
        count = len(firing)
        title = f"{icon} {group.title}" if count == 1 else f"{icon} {count} · {group.title}"
    else:  # the most final reason any line ended for: switched off > day over > resolved
        ended = {line.state for line in group.lines}
        last = next((s for s in ("stopped", "expired") if s in ended), "resolved")
        title = f"{ENDED[last][0]} {HEADERS[last]} · {group.title}"
    text = title if len(firing) != 1 else f"{title}: {firing[0].name}"
    rendered = []
    for line in group.lines[:MAX_LINES]:
        trend = f"  `{sparkline(line.trend)}`" if line.trend else ""
        ack = f"  _ack <@{line.acked_by}>_" if line.acked_by else ""
        rendered.append(f"{_line(line, group)}{trend}{ack}")
    if len(group.lines) > MAX_LINES:
        rendered.append(f"…and {len(group.lines) - MAX_LINES} more")
    blocks: list[dict[str, Any]] = [header(title)]
    blocks += [section(chunk) for chunk in chunk_lines(rendered)]
    if firing and group.why:
        blocks.append(section(group.why))
    if firing and group.step:
        blocks.append(context(group.step))
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
