"""Telling open sockets that a user's access changed (accounts' one use of the channel layer).

A revoked token, a sign-out, a removed membership or a changed role is
committed first; then every worker's hub hears it through the user's group
and re-checks that user's sockets against the database. The message carries
no authority of its own (a hub reads the truth itself), and hubs re-check
every socket periodically too, so a lost message only delays the close.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.credentials import session_digest

logger = logging.getLogger(__name__)

ACCESS_TYPE = "access.changed"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def access_changed(user_id: int, *, ended_session: str | None = None) -> None:
    """After the current transaction commits, have every worker re-check the user's sockets.

    `ended_session` is the digest (accounts.credentials.session_digest) of a
    cookie session that just ended: its sockets close without waiting for the
    session row to go.
    """
    transaction.on_commit(lambda: _send(user_id, ended_session))


def signed_out(sender, request, user, **kwargs) -> None:
    """`user_logged_out` receiver: the sockets of the session being flushed close."""
    session_key = request.session.session_key if request is not None else None
    if user is not None and session_key:
        # The signal comes before the flush, so name the session rather than
        # let a re-check find its row still there.
        access_changed(user.pk, ended_session=session_digest(session_key))


def _send(user_id: int, ended_session: str | None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": ACCESS_TYPE, "user_id": user_id, "ended_session": ended_session}
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:
        # Committed all the same; the hubs' periodic re-check closes the sockets.
        logger.exception("access change of user %s not announced", user_id)
