"""Start-up objects leave the cyclic collector's generations (bot.runtime.freeze_startup_heap)."""

from __future__ import annotations

import gc
import weakref

from bot.runtime import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_startup_objects_are_frozen_and_garbage_is_collected_first() -> None:
    before, enabled = gc.get_freeze_count(), gc.isenabled()
    gc.disable()  # no automatic collection between the checks below
    kept, dropped = _Node(), weakref.ref(_Node())
    assert dropped() is not None  # the cycle is still there until a collection
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > before
        assert dropped() is None  # garbage was collected first, not frozen forever
        assert kept.me is kept
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
