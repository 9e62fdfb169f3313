"""Domain errors the services raise; the interfaces turn them into responses or messages."""

from __future__ import annotations


class SieveError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(SieveError):
    """The object does not exist, or the user may not know that it does."""


class PermissionDenied(SieveError):
    """The user is known to the project but their role does not allow this."""


class ValidationError(SieveError):
    """Input that cannot be accepted; names the field and the reason."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ConflictError(SieveError):
    """The request clashes with the current state (already exists, already decided)."""


class RateLimited(SieveError):
    """Too many attempts; try again later."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
