"""Who may curate the tag vocabulary (rename, merge, aliases, implications)."""

from tagger_project.errors import PermissionDenied


def require_curator(user) -> None:
    """Raise PermissionDenied unless `user` is staff: curation changes every session's tags."""
    if not user.is_staff:
        raise PermissionDenied("tag curation is for staff")
