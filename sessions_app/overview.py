"""Reads behind the sessions page: each visible session with its progress."""

from dataclasses import dataclass, field

from django.db.models import Count

from sessions_app.models import (
    ClientConnection,
    ImageStatus,
    SessionImage,
    SessionMember,
    SessionRules,
    TaggingSession,
)
from sessions_app.permissions import sessions_visible_to


@dataclass
class SessionOverview:
    """One row of the sessions page."""

    session: TaggingSession
    role: str
    counts: dict[str, int]
    online: list[str] = field(default_factory=list)
    # The rules' pinned head, which an export puts first unless told otherwise.
    pinned: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Images that need no more work (tagged, reviewed or skipped)."""
        return self.total - self.counts.get(ImageStatus.TODO, 0)

    @property
    def segments(self) -> list[tuple[str, int, float]]:
        """(status, count, percent) for the stacked progress bar, in workflow order."""
        total = self.total or 1
        return [
            (status, self.counts.get(status, 0), 100 * self.counts.get(status, 0) / total)
            for status in ImageStatus.values
        ]

    @property
    def bar(self) -> list[tuple[str, int, str, str]]:
        """(status, count, start %, width %) of each non-empty segment, for an SVG bar.

        Positions as attributes rather than style="width: …": the CSP forbids
        inline styles.
        """
        start = 0.0
        drawn = []
        for status, count, pct in self.segments:
            if count:
                drawn.append((status, count, f"{start:.2f}", f"{pct:.2f}"))
                start += pct
        return drawn


def sessions_overview(user) -> list[SessionOverview]:
    """The user's sessions, newest first, with image counts per status and who is online."""
    sessions = list(sessions_visible_to(user).select_related("owner"))
    ids = [session.pk for session in sessions]
    counts: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    rows = (
        SessionImage.objects.filter(session_id__in=ids)
        .values_list("session_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for session_id, status, n in rows:
        counts[session_id][status] = n
    roles = dict(
        SessionMember.objects.filter(session_id__in=ids, user=user).values_list(
            "session_id", "role"
        )
    )
    online: dict[int, list[str]] = {pk: [] for pk in ids}
    # Connection rows are swept when a client goes silent, so they are who is online.
    present = (
        ClientConnection.objects.filter(session_id__in=ids)
        .values_list("session_id", "user__username")
        .distinct()
        .order_by("session_id", "user__username")
    )
    for session_id, username in present:
        online[session_id].append(username)
    pinned = dict(
        SessionRules.objects.filter(session_id__in=ids).values_list("session_id", "pinned")
    )
    return [
        SessionOverview(
            session=s,
            role=roles.get(s.pk, ""),
            counts=counts[s.pk],
            online=online[s.pk],
            pinned=pinned.get(s.pk, []),
        )
        for s in sessions
    ]
