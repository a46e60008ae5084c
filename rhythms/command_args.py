"""`/drumbeat` text as words: shell-like quoting, and a schedule typed without quotes.

    rhythm time daily_scoreboard "30 18 * * mon-fri"   the documented form
    rhythm time daily_scoreboard 30 18 * * mon-fri     the same: five cron fields after the
                                                       name are one schedule

Quotes may be typographic (“…”, as macOS and phones type them). Nothing else is joined: six
words after the name, or a team word first (`rhythm time NAME sdr …`), reach the switchboard
as they were typed, which says what is wrong with them.
"""

from __future__ import annotations

import re
import shlex

from rhythms.cron import CRON_FIELDS

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$", re.ASCII)
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"'})


def command_words(text: str) -> list[str]:
    """The words of `text` (`shlex.split`, after typographic double quotes become plain
    ones), with an unquoted cron after `rhythm time NAME` read as one word. ValueError on
    an unclosed quote, as `shlex.split`."""
    words = shlex.split(text.translate(_CURLY))
    head, fields = words[:3], words[3:]
    if (
        [w.lower() for w in head[:2]] == ["rhythm", "time"]
        and len(head) == 3
        and len(fields) == CRON_FIELDS
        and all(_CRON_FIELD.match(f) for f in fields)
    ):
        return [*head, " ".join(fields)]
    return words
