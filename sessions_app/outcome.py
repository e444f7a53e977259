"""What a service that writes returns: its value, and the events it appended to the log.

A door answers with what the service logged (the socket's `ack` seq, the
API's `seq` field) by reading `.events` or `.seq`, never by guessing from the
session's `last_seq`, which another writer may already have moved. A service
that calls another service adds the inner call's events to its own (`then`),
so the outer outcome holds every event of the transaction, in the order logged.
A service that raised rolled its events back: the caller sees the error, not
an outcome.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sessions_app.models import SessionEvent

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A service's value and the SessionEvents it appended, in seq order."""

    value: T
    events: tuple[SessionEvent, ...] = ()

    @property
    def seq(self) -> int | None:
        """The seq of the last event appended, or None when the call logged nothing."""
        return self.events[-1].seq if self.events else None

    def seq_in(self, session_id: int) -> int | None:
        """The seq of the last event appended to that session's log, or None."""
        seqs = [event.seq for event in self.events if event.session_id == session_id]
        return seqs[-1] if seqs else None

    def then(self, value: U, *more: "Outcome | Iterable[SessionEvent]") -> "Outcome[U]":
        """An outcome with `value`, these events and the events of `more` after them."""
        events = list(self.events)
        for part in more:
            events += part.events if isinstance(part, Outcome) else part
        return Outcome(value, tuple(events))


def gathered(value: T, parts: Iterable["Outcome | Iterable[SessionEvent]"]) -> Outcome[T]:
    """An outcome with `value` and the events of each part, in order."""
    return Outcome(value).then(value, *parts)
