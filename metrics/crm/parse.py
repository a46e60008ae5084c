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
# CRM activity happens in this window; anything outside is a typo or a placeholder
# ("0001-01-01", "9999-12-31"), and near year 1 or 9999 converting zones overflows.
FIRST_YEAR, LAST_YEAR = 1970, 2100
# Integers must fit a 64-bit SQL integer; durations are bounded further (`duration`).
MAX_INT = 2**63 - 1
MAX_DURATION_SECONDS = 7 * 24 * 3600


def check_year(moment: dt.datetime | dt.date, field: str, value: Any) -> None:
    """BadValue unless `moment` falls in FIRST_YEAR..LAST_YEAR (checked before any time
    zone conversion, which overflows at the calendar's edges)."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise BadValue(f"{field} {value!r} is outside {FIRST_YEAR}-{LAST_YEAR}")


def instant(value: Any, field: str, *, required: bool = True) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 (offset or Z), epoch milliseconds, or
    'YYYY-MM-DD HH:MM:SS' (taken as UTC, as Pipedrive v1 sends it)."""
    if value is None or value == "":
        if required:
            raise BadValue(f"{field} is missing")
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        try:
            moment = dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise BadValue(f"{field} {value!r} is not an epoch-ms time") from exc
        check_year(moment, field, value)
        return moment
    if not isinstance(value, str):
        raise BadValue(f"{field} has type {type(value).__name__}, expected a time")
    text = value.strip().replace("Z", "+00:00")
    text = _OFFSET_NO_COLON.sub(r"\1:\2", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadValue(f"{field} {value!r} is not a date-time") from exc
    check_year(parsed, field, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def day(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise BadValue(f"{field} {value!r} is not a date") from exc
        check_year(parsed, field, value)
        return parsed
    moment = instant(value, field, required=False)
    return moment.date() if moment else None


# Currency symbols an amount may carry; "$" is shared by many dollars, so it only says
# "some dollar" (see `DOLLARS`) and never picks a currency by itself.
SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "$": "$"}
DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD"})
_MARK = r"(?:[€£¥$]|[A-Za-z]{3})"
_LEADING = re.compile(rf"^({_MARK})\s*(.*\d.*)$")
_TRAILING = re.compile(rf"^(.*\d.*?)\s*({_MARK})$")
_GROUPED = {sep: re.compile(rf"^\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+$") for sep in ",."}
_SPACES = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}(?:\D|$))")


def money(value: Any, field: str, currency: str | None = None) -> Decimal | None:
    """A Decimal amount, None when missing (never zero for missing). See `amount`."""
    return amount(value, field, currency)[0]


def amount(
    value: Any, field: str, currency: str | None = None
) -> tuple[Decimal | None, str | None]:
    """(amount, the currency its text names or None). Missing is None, never zero.

    Text may carry a leading or trailing currency symbol or 3-letter code (`$1,200.00`,
    `1.250,00 EUR`); when `currency` is given it must match (`$` matches any dollar).
    Separators: with both `.` and `,` the last one is the decimal mark (`1,250.00`,
    `1.250,00`); spaces between digit groups are thousands separators (`1 250,00`); a lone
    `,` followed by exactly three digits (`1,250`, `1,250,000`) groups thousands, followed by
    one or two digits (`1,5`, `12,50`) it is the decimal mark; a lone `.` is always the
    decimal mark (`1.250` is 1.25, as APIs send it) and repeated dots group thousands.
    Anything else is refused rather than guessed."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None, None
    if isinstance(value, bool):
        raise BadValue(f"{field} {value!r} is not an amount")
    text = str(value).strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = text[:1], text[1:].strip()
    named: str | None = None
    for pattern, mark_group, rest_group in ((_LEADING, 1, 2), (_TRAILING, 2, 1)):
        match = pattern.match(text)
        if match:
            mark = match.group(mark_group)
            named = SYMBOLS.get(mark, mark.upper())
            text = match.group(rest_group).strip()
            break
    if text[:1] in "+-" and not sign:
        sign, text = text[:1], text[1:].strip()
    if named is not None and currency is not None:
        wanted = currency.strip().upper()
        if not (named == wanted or (named == "$" and wanted in DOLLARS)):
            raise BadValue(f"{field} {value!r} is not in currency {wanted}")
    number = _number(_SPACES.sub("", text), field, value)
    try:
        result = Decimal(sign + number)
    except InvalidOperation as exc:
        raise BadValue(f"{field} {value!r} is not an amount") from exc
    if not result.is_finite() or result.copy_abs() >= Decimal("1e16"):
        raise BadValue(f"{field} {value!r} is out of range")
    return result.quantize(Decimal("0.01")), named


def _number(text: str, field: str, value: Any) -> str:
    """`text` with thousands separators removed and a `.` decimal mark (see `amount`)."""
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal_mark == "," else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        if not _GROUPED[group].match(whole) or not fraction.isdigit():
            raise BadValue(f"{field} {value!r} is not an amount (mixed separators)")
        return whole.replace(group, "") + "." + fraction
    if commas:
        whole, _, fraction = text.rpartition(",")
        if _GROUPED[","].match(text):
            return text.replace(",", "")
        if commas == 1 and whole.isdigit() and fraction.isdigit() and len(fraction) <= 2:
            return f"{whole}.{fraction}"
        raise BadValue(f"{field} {value!r} is not an amount (ambiguous comma)")
    if dots > 1:
        if _GROUPED["."].match(text):
            return text.replace(".", "")
        raise BadValue(f"{field} {value!r} is not an amount")
    return text


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in ("true", "1", "yes", "y", "t")


def integer(value: Any, field: str) -> int | None:
    """An int (fractions truncated), None when missing; refuses non-numbers, infinities and
    values beyond a 64-bit SQL integer."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field} {value!r} is not a number")
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise BadValue(f"{field} {value!r} is not a number") from exc
    if not number.is_finite():
        raise BadValue(f"{field} {value!r} is not a finite number")
    if number.copy_abs() > MAX_INT:  # as Decimal: int("1e999999") would be huge
        raise BadValue(f"{field} {value!r} is out of range")
    return int(number)


def duration(value: Any, field: str, *, unit: int = 1) -> int | None:
    """Seconds from a count of `unit` seconds, None when missing; a negative duration or
    one over `MAX_DURATION_SECONDS` (7 days) is refused as implausible."""
    number = integer(value, field)
    if number is None:
        return None
    if not 0 <= number * unit <= MAX_DURATION_SECONDS:
        raise BadValue(f"{field} {value!r} is not a plausible duration (0 to 7 days)")
    return number * unit


def currency(value: Any, default: str | None) -> str | None:
    """A 3-letter code (upper case) from a code or an unambiguous symbol (€ EUR, £ GBP,
    ¥ JPY); `default` when empty. Anything else, `$` included (which dollar?), is refused."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    text = str(value).strip()
    if re.fullmatch(r"[A-Za-z]{3}", text):
        return text.upper()
    code = SYMBOLS.get(text)
    if code is not None and code != "$":
        return code
    raise BadValue(f"currency {text!r} is not a 3-letter code (or one of € £ ¥)")


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
