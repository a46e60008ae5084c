"""Small pure Block Kit builders: blocks as plain dicts, text helpers for mobile-first messages.

Every builder clips its text to Slack's documented limits (header 150 chars, section text
3,000, field 2,000, button text 75, 10 fields per section, 10 context elements), so a long
name or a big team can never make Slack reject a message. Callers still keep a message under
50 blocks (a view under 100); `chunk_lines` helps by packing lines into few sections.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from metrics.catalog import currency_symbol

Block = dict[str, Any]

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
MODAL_TITLE_MAX = 24
NOTIFICATION_TEXT_MAX = 3000

STATUS_DOTS = {"green": "🟢", "yellow": "🟡", "red": "🔴", "none": "⚪"}
SPARK_CHARS = "▁▂▃▄▅▆▇█"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def plain(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_MAX)}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def fields(items: Sequence[str], *, text: str | None = None) -> Block:
    """A section of up to 10 two-column fields (extra items are dropped: split first)."""
    block: Block = {
        "type": "section",
        "fields": [mrkdwn(item, FIELD_TEXT_MAX) for item in items[:FIELDS_MAX]],
    }
    if text:
        block["text"] = mrkdwn(text)
    return block


def context(*parts: str) -> Block:
    return {
        "type": "context",
        "elements": [mrkdwn(part) for part in parts[:CONTEXT_ELEMENTS_MAX] if part],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
        "value": clip(value, BUTTON_VALUE_MAX),
    }
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def modal(title: str, blocks: Sequence[Block], *, callback_id: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "title": plain(title, MODAL_TITLE_MAX),
        "close": plain("Close", MODAL_TITLE_MAX),
        "blocks": list(blocks)[:VIEW_BLOCKS_MAX],
    }
    if callback_id:
        view["callback_id"] = callback_id
    return view


def text_input(
    block_id: str,
    label: str,
    *,
    limit: int,
    required: bool,
    initial: object = None,
    hint: str | None = None,
    action_id: str = "value",
) -> Block:
    """A multiline plain-text input block for modals, pre-filled with `initial` if any."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": True,
        "max_length": limit,
    }
    if initial:
        element["initial_value"] = str(initial)[:limit]
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": not required,
        "label": plain(label, 2000),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def status_dot(status: str) -> str:
    return STATUS_DOTS.get(status, STATUS_DOTS["none"])


def sparkline(values: Sequence[float]) -> str:
    """▁▂▃▄▅▆▇█ scaled from 0 to the largest value; an all-zero series is a flat ▁ line."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK_CHARS[0] * len(values)
    scale = (len(SPARK_CHARS) - 1) / top
    return "".join(SPARK_CHARS[round(v * scale) if v > 0 else 0] for v in values)


def progress_bar(fraction: float, width: int = 10) -> str:
    """A text bar like ▰▰▰▰▰▰▱▱▱▱ for `fraction` (clamped to 0..1)."""
    if math.isnan(fraction):
        fraction = 0.0
    fraction = min(1.0, max(0.0, fraction))
    full = round(fraction * width)
    return "▰" * full + "▱" * (width - full)


def fmt_number(value: float, unit: str = "count", currency: str = "USD") -> str:
    """A value for humans: 42, 0.6, $12.5k, 38% (0.38), 175% (1.75), 4.2 days."""
    if unit == "currency":
        symbol = currency_symbol(currency)
        magnitude = abs(value)
        if magnitude >= 1_000_000:
            return f"{symbol}{value / 1_000_000:.1f}M"
        if magnitude >= 10_000:
            return f"{symbol}{value / 1_000:.0f}k"
        if magnitude >= 1_000:
            return f"{symbol}{value / 1_000:.1f}k"
        return f"{symbol}{value:,.0f}"
    if unit == "percent":  # percent metrics are fractions everywhere (docs/metrics.md)
        return f"{value * 100:.0f}%"
    if unit == "days":
        return f"{value:.1f} days"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def chunk_lines(lines: Iterable[str], limit: int = SECTION_TEXT_MAX - 100) -> list[str]:
    """Pack lines into as few texts of at most `limit` characters as possible."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, limit)
        if current and size + len(line) + 1 > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def escaped(text: str) -> str:
    """People's own text made safe for mrkdwn: Slack reads `<!channel>`, `<@U…>` and
    `<https://…|label>` in a message as a mention or a link, so `&`, `<` and `>` are sent as
    entities (Slack's "escaping text" rule); everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int = SECTION_TEXT_MAX - 100) -> list[str]:
    """`text` in pieces of at most `limit` characters, no word lost: cut at the last line
    end, else the last space, before the limit, and never inside an `&…;` entity."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
            entity = text.rfind("&", max(0, cut - 5), cut)
            if entity > 0 and ";" not in text[entity:cut]:
                cut = entity
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    if text or not pieces:
        pieces.append(text)
    return pieces


def human_join(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def render_text(blocks: Sequence[Block]) -> str:
    """A plain-text rendering of blocks for terminals (`drumbeat preview`) and logs."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = str(block["text"]["text"])
            out.extend([title, "=" * min(len(title), 60)])
        elif kind == "section":
            if "text" in block:
                out.append(str(block["text"]["text"]))
            out.extend(f"  {f['text']}".replace("\n", " ") for f in block.get("fields", []))
        elif kind == "context":
            out.append("  " + " | ".join(str(e.get("text", "")) for e in block["elements"]))
        elif kind == "actions":
            out.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        elif kind == "divider":
            out.append("-" * 40)
    return "\n".join(out)
