"""The full metadata: every table of every package, for migrations and test set-up."""

from __future__ import annotations

from sqlalchemy import MetaData

import metrics.models
import rhythms.models
from metrics.store import Base

_MODEL_MODULES = (metrics.models, rhythms.models)


def all_metadata() -> MetaData:
    """`Base.metadata` with every table registered."""
    return Base.metadata
