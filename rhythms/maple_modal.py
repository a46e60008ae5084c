"""The MAPLE modal: Block Kit for the five sections, and parsing/validating a submission.

Pure functions: answers in, a view out; a view's state in, answers and per-field errors out.
The bot answers `view_submission` with ``{"response_action": "errors", "errors": ...}``
from `parse_submission` so mistakes show inline, next to the field, with the text kept.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rhythms.blocks import actions, button, clip, context, plain, section, text_input

CALLBACK_ID = "maple_submit"
SAVE_DRAFT_ACTION = "maple_save_draft"
VALUE_ACTION = "value"

# (block_id, label, max chars, required)
SECTIONS: tuple[tuple[str, str, int, bool], ...] = (
    ("metrics", "M · Metrics: your read of the numbers", 1000, False),
    ("advanced", "A · Advanced: what moved forward", 3000, True),
    ("planned", "P · Planned: next week's priorities (one per line)", 2000, True),
    ("learnings", "L · Learnings", 2000, False),
    ("emergencies", "E · Emergencies: blockers needing help now", 2000, False),
)
DEFAULT_HINTS = {
    "metrics": "What explains the numbers above? Optional.",
    "advanced": "Deals, projects and people that moved this week.",
    "planned": "Up to 10 lines; next week they come back as a checklist.",
    "learnings": "What worked, what didn't, what you'd tell another team.",
    "emergencies": "Anything here goes to the CRO and your manager at once.",
}
MAX_PLANNED_ITEMS = 10
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s*")


@dataclass(frozen=True)
class ModalContext:
    """Everything the modal shows besides the person's own answers."""

    rhythm: str
    period_key: str
    person_id: int
    week_label: str  # "Week 47 · Nov 16–22"
    metrics_text: str  # computed team/person week vs target, mrkdwn
    last_planned: tuple[str, ...] = ()
    hints: tuple[tuple[str, str], ...] = ()
    status_note: str | None = None  # e.g. "Draft saved 14:02" or "Submitted Fri 15:10"


def planned_items(text: str) -> list[str]:
    """Lines of a Planned answer as checklist items (bullets and numbering stripped); the
    modal refuses more than `MAX_PLANNED_ITEMS`, older replies are cut to them."""
    return _items(text)[:MAX_PLANNED_ITEMS]


def _items(text: str) -> list[str]:
    items = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    return [item for item in items if item]


def _option(index: int, text: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": str(index)}


def maple_modal(ctx: ModalContext, answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """The modal view for `ctx`, pre-filled with `answers` (a draft or a previous submission)."""
    answers = answers or {}
    hints = {**DEFAULT_HINTS, **dict(ctx.hints)}
    blocks: list[dict[str, Any]] = [
        section(f"*{ctx.week_label}*"),
        section(ctx.metrics_text or "_No metrics yet._", block_id="metrics_summary"),
    ]
    if ctx.status_note:
        blocks.append(context(clip(ctx.status_note, 300)))
    for block_id, label, limit, required in SECTIONS:
        if block_id == "advanced" and ctx.last_planned:
            blocks.append(_checklist(ctx.last_planned, answers.get("advanced_done", [])))
        blocks.append(
            text_input(
                block_id,
                label,
                limit=limit,
                required=required,
                initial=answers.get(block_id),
                hint=hints[block_id],
                action_id=VALUE_ACTION,
            )
        )
    blocks.append(
        actions(button("Save draft", SAVE_DRAFT_ACTION, ctx.period_key), block_id="draft")
    )
    metadata = {"rhythm": ctx.rhythm, "period": ctx.period_key, "person": ctx.person_id}
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Weekly MAPLE"),
        "submit": plain("Submit"),
        "close": plain("Close"),
        "clear_on_close": False,
        "notify_on_close": False,
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _checklist(items: tuple[str, ...], done: list[str]) -> dict[str, Any]:
    options = [_option(i, item) for i, item in enumerate(items)]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": VALUE_ACTION, "options": options}
    initial = [o for o in options if o["value"] in {str(d) for d in done}]
    if initial:
        element["initial_options"] = initial
    return {
        "type": "input",
        "block_id": "advanced_done",
        "optional": True,
        "label": plain("Last week you planned: which happened?"),
        "element": element,
    }


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else {}: submitted view state is not trusted to be well formed."""
    return value if isinstance(value, dict) else {}


def state_values(view: dict[str, Any]) -> dict[str, Any]:
    return as_dict(as_dict(as_dict(view).get("state")).get("values"))


# Bidirectional embeddings, overrides and isolates: they can make text read differently
# from what it says (and the rest of a Slack message with it).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str) -> str:
    """Normalise line ends, drop control characters (keeping newlines and tabs) and bidi
    overrides, strip. Everything else stays as typed: zero-width joiners (emoji sequences,
    Persian and Indic scripts), no-break and ideographic spaces, variation selectors."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch
        for ch in text
        if ch in "\n\t"
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS)
    ).strip()


def modal_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The rhythm/period/person the modal was opened for; raises ValueError if tampered."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
        return {
            "rhythm": str(meta["rhythm"]),
            "period": str(meta["period"]),
            "person": int(meta["person"]),
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable MAPLE modal metadata: {exc}") from exc


def parse_submission(
    view: dict[str, Any], *, draft: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Answers from a view's state, and errors keyed by block_id (empty when valid).

    A draft skips the required-field checks but not the length limits.
    """
    values = state_values(view)
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for block_id, label, limit, required in SECTIONS:
        value = as_dict(as_dict(values.get(block_id)).get(VALUE_ACTION)).get("value")
        text = clean_text(value if isinstance(value, str) else "")
        if len(text) > limit:
            errors[block_id] = f"Keep it under {limit} characters (now {len(text)})."
        elif required and not draft and not text:
            errors[block_id] = f"{label.split(':')[0]} is needed before you submit."
        answers[block_id] = text
    items = len(_items(answers.get("planned", "")))
    if answers.get("planned") and items == 0 and not draft:
        errors["planned"] = "Add at least one priority for next week."
    elif items > MAX_PLANNED_ITEMS and "planned" not in errors:
        errors["planned"] = (
            f"{MAX_PLANNED_ITEMS} priorities at most, one per line (now {items}): "
            "next week's checklist shows that many."
        )
    checked = as_dict(as_dict(values.get("advanced_done")).get(VALUE_ACTION)).get(
        "selected_options"
    )
    checked = checked if isinstance(checked, list) else []
    answers["advanced_done"] = sorted(
        {str(o.get("value")) for o in checked if isinstance(o, dict) and o.get("value") is not None}
    )
    return answers, errors
