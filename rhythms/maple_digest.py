"""Compose the MAPLE digest and the emergency escalation messages (pure Block Kit).

The digest is one post per audience: a header, each update in a compact form sorted by team,
the missing people named, and a participation footer. Long updates are cut in the post and
carried whole in a thread reply, so the channel stays readable. Messages are split into parts
that each stay under Slack's 50-block limit. People's answers are escaped (`blocks.escaped`):
a `<!channel>` typed into the modal is shown, not sent to everyone in the digest's channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rhythms.blocks import actions, button, context, divider, escaped, header, section, split_text
from rhythms.maple import Participation

EMERGENCY_ACK_ACTION = "maple_emergency_ack"
COMPACT_CHARS = 280
BLOCKS_PER_PART = 45
LETTERS = (
    ("metrics", "M"),
    ("advanced", "A"),
    ("planned", "P"),
    ("learnings", "L"),
    ("emergencies", "E"),
)


@dataclass(frozen=True)
class DigestEntry:
    person_name: str
    slack_user_id: str | None
    team_name: str
    metrics_line: str  # computed, e.g. "Calls 262/300 · Meetings 11/10"
    answers: dict[str, Any]
    late: bool = False
    done_items: tuple[str, ...] = ()  # last week's Planned items marked done
    open_items: tuple[str, ...] = ()  # ... and not done


@dataclass(frozen=True)
class DigestMessage:
    text: str
    blocks: list[dict[str, Any]]
    threads: list[dict[str, Any]]  # thread replies: {"text", "blocks"}


def _cut(text: str, limit: int = COMPACT_CHARS) -> tuple[str, bool]:
    """An answer on one line, escaped, in at most `limit` characters (cut before an entity
    rather than through it)."""
    text = " ".join(text.split())
    if len(escaped(text)) <= limit:
        return escaped(text), False
    head = text[: limit - 1]
    while len(escaped(head)) > limit - 1:
        head = head[:-1]
    return escaped(head) + "…", True


def _entry_text(entry: DigestEntry) -> tuple[str, bool]:
    lines = [f"*{entry.person_name}* · {entry.team_name}" + (" · _late_" if entry.late else "")]
    long = False
    lines.append(f"*M* {entry.metrics_line}")
    for key, letter in LETTERS:
        value = str(entry.answers.get(key) or "").strip()
        if key == "advanced" and (entry.done_items or entry.open_items):
            ticks = [f"✅ {escaped(i)}" for i in entry.done_items] + [
                f"⬜ {escaped(i)}" for i in entry.open_items
            ]
            lines.append("*A* last week's plan: " + ", ".join(ticks))
        if not value:
            continue
        text, cut = _cut(value)
        long = long or cut
        prefix = "🚨 *E*" if key == "emergencies" else f"*{letter}*"
        if key == "metrics":
            prefix = "*M* _comment_"
        lines.append(f"{prefix} {text}")
    return "\n".join(lines), long


def _full_update(entry: DigestEntry) -> dict[str, Any]:
    """The thread reply with every answer whole: a section per answer, long ones in several
    (up to 3,000 + 2,000 × 3 + 1,000 characters in all, ~10 sections: one message)."""
    blocks = [section(f"*{entry.person_name}* — full update")]
    for key, letter in LETTERS:
        value = str(entry.answers.get(key) or "").strip()
        if value:
            pieces = split_text(escaped(value))
            blocks += [section(f"*{letter}*\n{pieces[0]}"), *(section(p) for p in pieces[1:])]
    return {"text": f"{entry.person_name}'s full MAPLE update", "blocks": blocks}


def maple_digest(
    *,
    week_label: str,
    entries: list[DigestEntry],
    missing: list[tuple[str, str]],  # (name, team)
    stats: Participation,
    trend: list[float] | None = None,  # answered share of previous weeks, oldest first
) -> list[DigestMessage]:
    """The digest as one or more messages (parts), each within Slack's block limits."""
    entries = sorted(entries, key=lambda e: (e.team_name, e.person_name))
    emergencies = sum(1 for e in entries if str(e.answers.get("emergencies") or "").strip())
    answered = len(stats.on_time) + len(stats.late)
    total = answered + len(stats.missing)
    summary = f"MAPLE digest · {week_label}: {answered}/{total} updates" + (
        f", {emergencies} emergency" + ("ies" if emergencies != 1 else "") if emergencies else ""
    )
    head: list[dict[str, Any]] = [
        header(f"MAPLE digest · {week_label}"),
        section(
            f"{answered} of {total} updates in"
            + (f" · 🚨 {emergencies} with emergencies" if emergencies else "")
        ),
    ]
    body: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    team = None
    for entry in entries:
        if entry.team_name != team:
            team = entry.team_name
            body.append((divider(), None))
        text, long = _entry_text(entry)
        thread = None
        if long:
            text += "\n_Full update in the thread._"
            thread = _full_update(entry)
        body.append((section(text), thread))
    footer: list[dict[str, Any]] = []
    if missing:
        names = ", ".join(f"{name} ({team_name})" for name, team_name in missing)
        footer.append(section(f"*Not in yet:* {names}"))
    pct = round(100 * stats.answered_share)
    trend_text = ""
    if trend:
        trend_text = " · last weeks " + " ".join(f"{round(100 * t)}%" for t in trend[-4:])
    footer.append(
        context(
            f"Participation {pct}%: {len(stats.on_time)} on time, {len(stats.late)} late, "
            f"{len(stats.missing)} missing{trend_text}"
        )
    )

    messages: list[DigestMessage] = []
    blocks = list(head)
    threads: list[dict[str, Any]] = []
    for block, thread in body:
        if len(blocks) >= BLOCKS_PER_PART:
            messages.append(DigestMessage(summary, blocks, threads))
            blocks, threads = [section(f"_MAPLE digest · {week_label}, continued_")], []
        blocks.append(block)
        if thread is not None:
            threads.append(thread)
    if len(blocks) + len(footer) > 50:
        messages.append(DigestMessage(summary, blocks, threads))
        blocks, threads = [], []
    blocks.extend(footer)
    messages.append(DigestMessage(summary, blocks, threads))
    return messages


def emergency_blocks(
    *,
    author_name: str,
    author_slack_id: str | None,
    team_name: str,
    week_label: str,
    text: str,
    reply_id: int,
    acked_by: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The escalation DM: the emergency text, who raised it, and an Acknowledge button."""
    who = f"<@{author_slack_id}>" if author_slack_id else author_name
    fallback = f"🚨 MAPLE emergency from {author_name} ({team_name})"
    quoted = ">" + escaped(text.strip()).replace("\n", "\n>")
    blocks: list[dict[str, Any]] = [
        header("🚨 MAPLE emergency"),
        section(f"From {who} · {team_name} · {week_label}"),
        *(section(p if p.startswith(">") else ">" + p) for p in split_text(quoted, 2900)),
    ]
    if acked_by:
        blocks.append(context(f"✅ Acknowledged by <@{acked_by}>"))
    else:
        ack = button("Acknowledge", EMERGENCY_ACK_ACTION, str(reply_id), style="primary")
        blocks.append(actions(ack, block_id="emergency"))
    return fallback, blocks
