"""Domain errors shared by every app; each door maps them to its own shape.

The API turns them into `{"error": {"code", "message", "details"}}` with a
status from `code`, the consumer into `error` frames, commands into
CommandError and the admin into messages.
"""

from typing import Any


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message: str, *, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class StaleVersion(Conflict):
    """A set-tags edit quoted an old version; `current` is the state to rebase on."""

    code = "stale_version"

    def __init__(self, message: str, *, current: dict[str, Any]) -> None:
        super().__init__(message, details=[current])
        self.current = current


class TooLarge(DomainError):
    """An upload or request over a configured limit (HTTP 413)."""

    code = "too_large"
