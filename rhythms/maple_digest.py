"""Compose the MAPLE digest and the emergency escalation messages (pure Block Kit).

The digest is one post per audience: a header, each update in a compact form sorted by team,
the missing people named (and those out of office), and a participation footer. Long updates
are cut in the post and carried whole in a thread reply, so the channel stays readable.
Every section stays within Slack's 3,000 characters without being clipped: an update's
answers are cut to 280 characters each, last week's plan and the name lists get sections of
their own, split with `blocks.split_text` (at line ends or spaces, never inside an entity).
Messages are split into parts that each stay under Slack's 50-block limit, an update never
across two. People's answers are escaped (`blocks.escaped`): a `<!channel>` typed into the
modal is shown, not sent to everyone in the digest's channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rhythms.blocks import (
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    actions,
    button,
    context,
    divider,
    escaped,
    header,
    section,
    split_text,
)
from rhythms.maple import Participation

EMERGENCY_ACK_ACTION = "maple_emergency_ack"
COMPACT_CHARS = 280
SPLIT_AT = SECTION_TEXT_MAX - 100  # a section's text, with room for a label
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


def _sections(text: str) -> list[dict[str, Any]]:
    """`text` (mrkdwn, already escaped) as sections, each within Slack's limit, nothing cut."""
    return [section(piece) for piece in split_text(text)]


def _entry_blocks(
    entry: DigestEntry, *, note: str = "_Full update in the thread._"
) -> tuple[list[dict[str, Any]], bool]:
    """An update in compact form (each answer cut to `COMPACT_CHARS`), and whether any answer
    was cut. Last week's plan, whole, in sections of its own: a long plan never pushes the
    answers (the 🚨 Emergencies line above all) out of the post."""
    blocks: list[dict[str, Any]] = []
    lines = [f"*{escaped(entry.person_name)}* · {escaped(entry.team_name)}"]
    if entry.late:
        lines[0] += " · _late_"
    lines.append(f"*M* {entry.metrics_line}")
    long = False
    for key, letter in LETTERS:
        value = str(entry.answers.get(key) or "").strip()
        if key == "advanced" and (entry.done_items or entry.open_items):
            ticks = [f"✅ {escaped(i)}" for i in entry.done_items] + [
                f"⬜ {escaped(i)}" for i in entry.open_items
            ]
            blocks += _sections("\n".join(lines))
            blocks += _sections("*A* last week's plan: " + ", ".join(ticks))
            lines = []
        if not value:
            continue
        text, cut = _cut(value)
        long = long or cut
        prefix = "🚨 *E*" if key == "emergencies" else f"*{letter}*"
        if key == "metrics":
            prefix = "*M* _comment_"
        lines.append(f"{prefix} {text}")
    if long:
        lines.append(note)
    if lines:
        blocks += _sections("\n".join(lines))
    return blocks, long


def _full_update(entry: DigestEntry) -> dict[str, Any]:
    """The thread reply with every answer whole: a section per answer, long ones in several
    (up to 3,000 + 2,000 × 3 + 1,000 characters in all, ~10 sections: one message)."""
    blocks = [section(f"*{escaped(entry.person_name)}* — full update")]
    for key, letter in LETTERS:
        value = str(entry.answers.get(key) or "").strip()
        if value:
            pieces = split_text(escaped(value))
            blocks += [section(f"*{letter}*\n{pieces[0]}"), *(section(p) for p in pieces[1:])]
    return {"text": f"{entry.person_name}'s full MAPLE update", "blocks": blocks}


def _names(label: str, people: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """'*Not in yet:* Ann (SDR), Bo (AE)…' in as many sections as it takes: nobody dropped,
    nobody's name cut in two (a name longer than a section alone is split by `split_text`)."""
    items = [f"{escaped(name)} ({escaped(team)})" for name, team in people]
    texts: list[str] = []
    current = f"*{label}:*"
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(current) + 1 + len(piece) > SPLIT_AT and current:
            texts.append(current)
            current = piece
        else:
            current = f"{current} {piece}"
    texts.append(current)
    return [section(p) for text in texts for p in split_text(text, SPLIT_AT)]


def maple_digest(
    *,
    week_label: str,
    entries: list[DigestEntry],
    missing: list[tuple[str, str]],  # (name, team)
    stats: Participation,
    trend: list[float] | None = None,  # answered share of previous weeks, oldest first
    away: list[tuple[str, str]] | None = None,  # (name, team): out of office, not answered
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
    # Groups of blocks that stay in one message, with the thread replies they bring.
    groups: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    team = None
    for entry in entries:
        blocks, long = _entry_blocks(entry)
        if entry.team_name != team:
            team = entry.team_name
            blocks.insert(0, divider())
        groups.append((blocks, [_full_update(entry)] if long else []))
    if missing:
        groups += [([b], []) for b in _names("Not in yet", missing)]
    if away:
        groups += [([b], []) for b in _names("Out of office", away)]
    pct = round(100 * stats.answered_share)
    trend_text = ""
    if trend:
        trend_text = " · last weeks " + " ".join(f"{round(100 * t)}%" for t in trend[-4:])
    footer = context(
        f"Participation {pct}%: {len(stats.on_time)} on time, {len(stats.late)} late, "
        f"{len(stats.missing)} missing"
        + (f", {len(away)} out of office" if away else "")
        + trend_text
    )
    groups.append(([footer], []))

    messages: list[DigestMessage] = []
    blocks = list(head)
    threads: list[dict[str, Any]] = []
    fresh = len(blocks)
    for group, group_threads in groups:
        if len(blocks) + len(group) > MESSAGE_BLOCKS_MAX and len(blocks) > fresh:
            messages.append(DigestMessage(summary, blocks, threads))
            blocks, threads = [section(f"_MAPLE digest · {week_label}, continued_")], []
            fresh = len(blocks)
        blocks.extend(group)
        threads.extend(group_threads)
    messages.append(DigestMessage(summary, blocks, threads))
    return messages


def late_update_message(
    entry: DigestEntry, *, submitted: str, edited: bool = False
) -> dict[str, Any]:
    """A late (or, `edited`, a changed) update as a reply in the digest's thread: headed as
    such, in the digest's compact form, and whole below it when an answer had to be cut
    (within 50 blocks: ~30 at most)."""
    blocks, long = _entry_blocks(entry, note="_Full update below._")
    if long:
        blocks += _full_update(entry)["blocks"][1:]
    if edited:
        kind = "Edited"
        intro = section(
            f"✏️ *Edited update* — changed {submitted}, after this digest went out; "
            "it replaces the version shown earlier"
        )
    else:
        kind = "Late"
        intro = section(f"🕓 *Late update* — submitted {submitted}, after this digest went out")
    return {
        "text": f"{kind} MAPLE update from {entry.person_name} ({entry.team_name})",
        "blocks": [intro, *blocks][:MESSAGE_BLOCKS_MAX],
    }


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
