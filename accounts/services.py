"""Issuing, revoking and checking personal API tokens."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.events import access_changed
from accounts.models import ApiToken
from tagger_project.errors import InvalidInput, NotFound

TOKEN_PREFIX = "tg_"
# Recording every use would turn each read into a write; once a minute is enough
# to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(user, *, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token for `user`; returns the row and the secret, which is shown only now."""
    name = name.strip()
    if len(name) > 100:
        raise InvalidInput("a token name has at most 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, token_hash=hash_token(secret))
    return token, secret


@transaction.atomic
def token_delete(user, *, token_id: int) -> None:
    """Revoke one of the user's tokens; someone else's token is NotFound."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise NotFound(f"token {token_id} does not exist")
    # Sockets opened with it close, on every worker.
    access_changed(user.pk)


def token_user(secret: str):
    """The active user holding this token secret, or None."""
    token = token_for_secret(secret)
    return token.user if token is not None else None


def token_for_secret(secret: str) -> ApiToken | None:
    """The token with this secret, if its user is active (its `user` loaded), or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
