"""The WebSocket handshake's Origin must be the page's own: scheme, host and port.

Channels' AllowedHostsOriginValidator compares host names only, so any page
served from another port of an allowed host (another program on the same
machine, a dev server) could open a socket with the user's cookie. Here the
origin must equal the origin of the URL the socket was opened on, that is the
handshake's scheme and Host header (with a host in ALLOWED_HOSTS), or be one
of CSRF_TRUSTED_ORIGINS, compared exactly.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, default ports filled in; None if malformed."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def handshake_scheme(scope, headers: dict[bytes, bytes]) -> str:
    """http or https: how the browser reached us (a TLS proxy says so in its header)."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        # Django's META name (HTTP_X_FORWARDED_PROTO) back to the header's name.
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = headers.get(header, b"").decode("latin-1").split(",")[0].strip()
        if forwarded:
            return "https" if forwarded == secure_value else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def origin_allowed(scope) -> bool:
    """True when the handshake's Origin is its own page's, or a trusted one."""
    headers = dict(scope.get("headers", []))
    origin = origin_key(headers.get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    trusted = {origin_key(item) for item in settings.CSRF_TRUSTED_ORIGINS}
    if origin in trusted:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    own = origin_key(f"{handshake_scheme(scope, headers)}://{host}") if host else None
    return own == origin and validate_host(origin[1], settings.ALLOWED_HOSTS)


class SameOriginValidator:
    """ASGI middleware: refuse the handshake unless origin_allowed()."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
