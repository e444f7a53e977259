"""What an open connection proved when it opened, and whether that still holds.

A WebSocket stays open for hours; the token or cookie session it opened with
can be revoked, signed out or its user disabled meanwhile. The socket keeps
its Credential and asks here, on every edit and whenever a hub re-checks.
"""

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from accounts.models import ApiToken
from tagger_project.errors import DomainError

TOKEN_REVOKED = "API token revoked"
SIGNED_OUT = "signed out"
USER_DISABLED = "account disabled"


class CredentialsLapsed(DomainError):
    """The token or session a connection opened with no longer holds."""

    code = "unauthenticated"


@dataclass(frozen=True)
class Credential:
    """A user, with the bearer token or the cookie session that proved it."""

    user_id: int
    token_id: int | None = None
    session_key: str | None = None

    @property
    def session_digest(self) -> str | None:
        return session_digest(self.session_key) if self.session_key else None


def session_digest(session_key: str) -> str:
    """A cookie session's name for messages between workers (not the key itself)."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def credentials_lapsed(credentials: Collection[Credential]) -> dict[Credential, str]:
    """The credentials that no longer hold, each with the reason; one query per kind."""
    users = get_user_model().objects.in_bulk({item.user_id for item in credentials})
    token_ids = {item.token_id for item in credentials if item.token_id is not None}
    tokens = dict(
        ApiToken.objects.filter(pk__in=token_ids).values_list("pk", "user_id") if token_ids else ()
    )
    sessions: dict[str, dict] = {}
    lapsed: dict[Credential, str] = {}
    for item in credentials:
        user = users.get(item.user_id)
        if user is None or not user.is_active:
            lapsed[item] = USER_DISABLED
        elif item.token_id is not None:
            if tokens.get(item.token_id) != item.user_id:
                lapsed[item] = TOKEN_REVOKED
        elif not _session_holds(sessions, item.session_key, user):
            lapsed[item] = SIGNED_OUT
    return lapsed


def require_credential(credential: Credential) -> None:
    """Raise CredentialsLapsed unless the credential still holds."""
    reason = credentials_lapsed([credential]).get(credential)
    if reason is not None:
        raise CredentialsLapsed(reason)


def _session_holds(cache: dict[str, dict], session_key: str | None, user) -> bool:
    """Whether the cookie session still signs in `user`, as Django's get_user decides."""
    if not session_key:
        return False
    if session_key not in cache:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        cache[session_key] = store(session_key=session_key).load()
    data = cache[session_key]
    if data.get(SESSION_KEY) != str(user.pk):
        return False
    # A password change rotates the hash and so signs out every other session.
    stored = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, known) for known in hashes)
