"""Parsing and normalizing vendor values: instants, money, booleans, outcomes, deal types.

Each parser raises `BadValue` with a short reason; connectors turn it into a
`RecordProblem` so one bad record never sinks its page.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any


class BadValue(ValueError):
    """A field that cannot be read; the message names the field and the value's problem."""


_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def instant(value: Any, field: str, *, required: bool = True) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 (offset or Z), epoch milliseconds, or
    'YYYY-MM-DD HH:MM:SS' (taken as UTC, as Pipedrive v1 sends it)."""
    if value is None or value == "":
        if required:
            raise BadValue(f"{field} is missing")
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        try:
            return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise BadValue(f"{field} {value!r} is not an epoch-ms time") from exc
    if not isinstance(value, str):
        raise BadValue(f"{field} has type {type(value).__name__}, expected a time")
    text = value.strip().replace("Z", "+00:00")
    text = _OFFSET_NO_COLON.sub(r"\1:\2", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadValue(f"{field} {value!r} is not a date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def day(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise BadValue(f"{field} {value!r} is not a date") from exc
    moment = instant(value, field, required=False)
    return moment.date() if moment else None


def money(value: Any, field: str) -> Decimal | None:
    """A Decimal amount, None when missing (never zero for missing)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field} {value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise BadValue(f"{field} {value!r} is not an amount") from exc
    if not amount.is_finite() or abs(amount) >= Decimal("1e16"):
        raise BadValue(f"{field} {value!r} is out of range")
    return amount.quantize(Decimal("0.01"))


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in ("true", "1", "yes", "y", "t")


def integer(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(str(value)))
    except ValueError as exc:
        raise BadValue(f"{field} {value!r} is not a number") from exc


def currency(value: Any, default: str | None) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        return value.strip().upper()
    return default


def call_outcome(value: Any) -> str | None:
    """Normalize a call disposition/status text to connected, no_answer, voicemail, busy,
    wrong_number or other."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower().replace("-", " ").replace("_", " ")
    if text in HUBSPOT_DISPOSITIONS:
        return HUBSPOT_DISPOSITIONS[text]
    rules = (
        ("wrong", "wrong_number"),
        ("voicemail", "voicemail"),
        ("left message", "voicemail"),
        ("left live message", "connected"),
        ("no answer", "no_answer"),
        ("not answered", "no_answer"),
        ("busy", "busy"),
        ("connect", "connected"),
        ("spoke", "connected"),
        ("talked", "connected"),
        ("completed", "connected"),
    )
    for needle, outcome in rules:
        if needle in text:
            return outcome
    return "other"


# HubSpot's default call disposition ids (portal-specific ones fall back to "other").
HUBSPOT_DISPOSITIONS = {
    "f240bbac 87c9 4f6e bf70 924b57d47db7": "connected",
    "a4c4c377 d246 4b32 a13b 75a56a4cd0ff": "connected",  # left live message
    "b2cf5968 551e 4856 9783 52b3da59a7d0": "voicemail",
    "73a0d17f 1163 4015 bdd5 ec830791da20": "no_answer",
    "9d9162e7 6cf3 4944 bf63 4dff82258764": "busy",
    "17b47fee 58de 441e a44c c6300d46f273": "wrong_number",
}


def meeting_outcome(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if "cancel" in text:
        return "cancelled"
    if "no_show" in text or "noshow" in text:
        return "no_show"
    if text in ("completed", "held", "done"):
        return "completed"
    return "scheduled"


def deal_type(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower().replace("_", " ")
    if "renew" in text:
        return "renewal"
    if "new" in text:
        return "new"
    if any(word in text for word in ("existing", "expansion", "upsell", "upgrade", "cross")):
        return "expansion"
    return None


def direction(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text.startswith("in") or "incoming" in text:
        return "inbound"
    if text.startswith("out") or text in ("email", "forwarded_email"):
        return "outbound"
    return None
