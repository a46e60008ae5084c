"""Who `@name` is: `/metric calls @renee`, `@dubois`, `@renee.dubois`, `@renée_dubois`,
`--person dana@acme.io`.

Words compare accent-folded and casefolded ("Renée" is "renee"), with `_`, `.` and `-` read
as spaces. A person answers to their email, its local part or their full name (a *full*
match), or to one word of their name: first, last or a middle one (a *part* match); full
matches beat parts. Drumbeat stores no Slack display name, so that is not matched.

Among the people the viewer may see (`permissions.can_view_person`): one match wins;
several are a question naming them ("did you mean A or B?"); none gets the closest names
(difflib) as suggestions, again only people the viewer may see. A match the viewer may not
see is returned only when it is the only one, for the permission check to refuse with its
reason; several such are refused without names.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.models import Person
from metrics.period_words import clip
from rhythms.metric_query import QueryError
from rhythms.permissions import can_view_person

LISTED_MAX = 5  # people a "did you mean" names
SUGGESTED_MAX = 3
SIMILAR = 0.75  # difflib ratio from which a name is suggested ("renne" → "renee": 0.8)


@dataclass(frozen=True)
class Known:
    """What matching needs of a person (columns only: an org may have 10,000)."""

    id: int
    email: str
    name: str


def fold(text: str) -> str:
    """`text` for comparing names: accents dropped, casefolded, `_ . -` as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(bare.replace("_", " ").replace(".", " ").replace("-", " ").split())


def full_keys(person: Known) -> set[str]:
    """What names the person alone: email, its local part, full name (all folded)."""
    return {fold(person.email), fold(person.email.split("@")[0]), fold(person.name)}


def part_keys(person: Known) -> set[str]:
    """Each word of the person's name, folded: first, middle and last names."""
    return set(fold(person.name).split())


def find_person(word: str, people: Sequence[Known], *, may_see: Callable[[int], bool]) -> Known:
    """The one person `word` (what followed @) names among `people`; QueryError asks back
    or suggests otherwise (see the module doc). `may_see(id)`: whether the viewer may see
    that person's numbers."""
    key = fold(word)
    full = [p for p in people if key in full_keys(p)]
    parts = [p for p in people if key in part_keys(p)]
    for matches in (full, parts):
        visible = [p for p in matches if may_see(p.id)]
        if len(visible) == 1:
            return visible[0]
        if visible:
            raise QueryError(_which(word, visible, people))
    hidden = full or parts
    if len(hidden) == 1:
        return hidden[0]  # the permission check says why the viewer may not see them
    if hidden:
        raise QueryError(f"Several people are called `@{clip(word)}`; you can't see their numbers.")
    close = _closest(key, people, may_see)
    shown = f"I can't find anyone called `@{clip(word)}`."
    if close:
        shown += " Did you mean " + _listed(close, people) + "?"
    raise QueryError(shown)


def visible_to(
    session: Session, viewer: Person | None, config: MetricsConfig | None
) -> Callable[[int], bool]:
    """`may_see` for `find_person`: everyone for a trusted caller (no viewer); the viewer
    alone when no config says more; else `permissions.can_view_person`."""
    if viewer is None:
        return lambda _id: True
    if config is None:
        return lambda person_id: person_id == viewer.id

    def may_see(person_id: int) -> bool:
        person = session.get(Person, person_id)
        return person is not None and can_view_person(viewer, person, config).allowed

    return may_see


def _which(word: str, matches: list[Known], people: Sequence[Known]) -> str:
    return f"`@{clip(word)}` could be several people. Did you mean {_listed(matches, people)}?"


def _listed(matches: list[Known], people: Sequence[Known]) -> str:
    """ "A (`@a`), B (`@b`) or C (`@c`)": each with what names them alone."""
    named = [f"{p.name} (`@{_handle(p, people)}`)" for p in matches[:LISTED_MAX]]
    if len(matches) > LISTED_MAX:
        named.append(f"{len(matches) - LISTED_MAX} more")
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


def _handle(person: Known, people: Sequence[Known]) -> str:
    """The email's local part, or the whole email where another person shares it."""
    local = fold(person.email.split("@")[0])
    shared = sum(1 for p in people if fold(p.email.split("@")[0]) == local)
    return person.email.split("@")[0] if shared == 1 else person.email


def _closest(key: str, people: Sequence[Known], may_see: Callable[[int], bool]) -> list[Known]:
    """The people the viewer may see whose names come closest to `key`, best first."""
    by_key: dict[str, list[Known]] = {}
    for person in people:
        for k in full_keys(person) | part_keys(person):
            by_key.setdefault(k, []).append(person)
    found: dict[int, Known] = {}
    for k in difflib.get_close_matches(key, list(by_key), n=4 * SUGGESTED_MAX, cutoff=SIMILAR):
        for person in by_key[k]:
            if person.id not in found and may_see(person.id):
                found[person.id] = person
    return list(found.values())[:SUGGESTED_MAX]
