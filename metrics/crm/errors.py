"""The CRM package's exceptions (see the package docstring for the hierarchy)."""

from __future__ import annotations


class CrmError(Exception):
    """Base class for CRM connector and sync errors."""


class CrmConfigError(CrmError):
    """A connector cannot start: a missing setting, file or bad column mapping."""


class CrmApiError(CrmError):
    """A CRM API call failed for good (after retries). Messages never include secrets."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SyncFailed(CrmError):
    """A sync run stopped part-way; what was committed stays, the next run resumes."""
