"""What of an invalid org config still validates, so one check lists every problem.

When any field fails validation there is no config to run the cross-reference checks on
(unknown teams, managers, metrics...), so a negative target and a misspelt team would take
two rounds of `check-config`. `salvage` removes from the file's data what failed until the
rest validates: an entry of `[[teams]]`, `[[people]]`, `[[metrics]]`, `[[alerts]]` or
`[rhythms.NAME]` with a bad field is left out whole (checking it with the field at its
default would report made-up problems), a bad field elsewhere (`[org]`, `[calendar]`...)
takes its default. `Pruned` remembers where each kept entry was in the file, so the checks'
problems are reported at their places, and drops those about entries left out.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

M = TypeVar("M", bound=BaseModel)
Problem = tuple[str, str]
LISTS = ("teams", "people", "metrics", "alerts")  # top-level arrays of tables
_IDENTITIES = ("email", "key", "name")  # what other entries refer to an entry by
_SEGMENT = re.compile(r"[.\[\]]")
_INDEXED = re.compile(r"(?<![\w.])(teams|people|metrics|alerts)\[(\d+)\]")  # top-level lists only


@dataclass
class Pruned:
    """What `salvage` removed, to map problems found on the rest back to the file."""

    origins: dict[str, list[int]]  # per top-level list: the file index of each kept entry
    left_out: set[str] = field(default_factory=set)  # emails, keys, names of entries left out
    shortened: set[str] = field(default_factory=set)  # top-level lists with entries left out

    def in_file(self, problems: list[Problem], field_paths: set[str]) -> list[Problem]:
        """`problems` found on the salvaged config with paths as in the file, without those
        about what was removed: a field already reported at `field_paths` (and checked
        here at its default), an entry left out, or a whole list that lost entries."""
        out: list[Problem] = []
        for path, message in problems:
            path, message = self._in_file(path), self._in_file(message)
            if path in self.shortened or any(_within(path, f) for f in field_paths):
                continue
            segments = set(_SEGMENT.split(path))
            if any(repr(name) in message or name in segments for name in self.left_out):
                continue
            out.append((path, message))
        return out

    def _in_file(self, text: str) -> str:
        def index(match: re.Match[str]) -> str:
            name, i = match.group(1), int(match.group(2))
            return f"{name}[{self.origins[name][i]}]" if name in self.origins else match[0]

        return _INDEXED.sub(index, text)


def salvage(
    model: type[M], data: dict[str, Any], errors: list[ErrorDetails]
) -> tuple[M, Pruned] | None:
    """`data` validated as `model` once what `errors` point at is removed (repeatedly, as
    removing a required field fails its parent); None when nothing like a config remains.

    Each round removes at least one part of `data`, so this ends."""
    data = copy.deepcopy(data)
    pruned = Pruned({name: list(range(len(data[name]))) for name in LISTS if _is_list(data, name)})
    while True:
        paths = {_removable(data, tuple(e["loc"])) for e in errors}
        if () in paths:
            return None
        # Deepest and last first, so the paths still to remove keep pointing where they did.
        for path in sorted(paths, reverse=True):
            _remove(data, path, pruned)
        try:
            return model.model_validate(data), pruned
        except ValidationError as exc:
            errors = exc.errors()


def _is_list(data: dict[str, Any], name: str) -> bool:
    return isinstance(data.get(name), list)


def _removable(data: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """What to remove for an error at `loc`: the entry it is in, else the part of `loc`
    that exists in `data`, widened from an element of a list to the whole list (removing
    one would shift the indices of the others)."""
    path: list[int | str] = []
    node: Any = data
    for part in loc:
        if not _has(node, part):
            break
        node = node[part]
        path.append(part)
    if _top_level_entry(path[:2]) or (len(path) >= 2 and path[0] == "rhythms"):
        return tuple(path[:2])
    if path and isinstance(path[-1], int):
        path.pop()
    return tuple(path)


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _top_level_entry(path: list[int | str] | tuple[int | str, ...]) -> bool:
    return len(path) == 2 and path[0] in LISTS and isinstance(path[1], int)


def _remove(data: dict[str, Any], path: tuple[int | str, ...], pruned: Pruned) -> None:
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if _top_level_entry(path) and isinstance(last, int):
        name = str(path[0])
        entry = parent[last]
        if isinstance(entry, dict):
            for key in _IDENTITIES:
                if isinstance(entry.get(key), str):
                    pruned.left_out |= {entry[key], entry[key].strip().lower()}
        del pruned.origins[name][last]
        pruned.shortened.add(name)
    del parent[last]


def _within(path: str, field_path: str) -> bool:
    return path == field_path or path.startswith((f"{field_path}.", f"{field_path}["))
