"""Pause Python's cyclic garbage collector while one alert tick runs.

An evaluation over 10,000 people keeps tens of thousands of small objects alive at once
(people, subjects, observations). Enough of them survive young collections that the
interpreter runs a full collection of the whole heap, twice per tick, and a full collection
walks every object of the process (config, ORM, libraries): measured at ~100 ms each, a third
of a steady-state tick. Reference counting still frees everything as usual while paused; only
cycle detection waits until the tick ends (well under a second), and is restored as it was.

Nesting and concurrent ticks in other threads are counted: the collector is re-enabled when
the last one ends, and only if it was enabled when the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
