"""`Authorization: Bearer <token>` on the WebSocket handshake, for scripts without a cookie."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.services import token_for_secret


def bearer_token(scope) -> str | None:
    """The token from the handshake's Authorization header, if it carries one."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return None


class BearerTokenMiddleware(BaseMiddleware):
    """Replace the cookie's user with the token's; a bad token means anonymous.

    `api_token_id` stays in the scope: the socket re-checks that token while open.
    """

    async def __call__(self, scope, receive, send):
        secret = bearer_token(scope)
        if secret is not None:
            token = await database_sync_to_async(token_for_secret)(secret)
            user = token.user if token is not None else AnonymousUser()
            scope = dict(scope, user=user, api_token_id=token.pk if token else None)
        return await super().__call__(scope, receive, send)
