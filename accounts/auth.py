"""How API callers prove who they are: a bearer token, or the session cookie plus CSRF."""

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts.services import token_user
from tagger_project.errors import DomainError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Unauthenticated(DomainError):
    code = "unauthenticated"


class CsrfFailed(DomainError):
    code = "csrf_failed"


class BearerAuth(HttpBearer):
    """`Authorization: Bearer <token>`; no CSRF, since browsers never send it on their own."""

    def authenticate(self, request: HttpRequest, token: str):
        user = token_user(token.strip())
        if user is None:
            # A script that sent a token means to use it: a bad one must not
            # fall back to whatever cookie is lying around.
            raise Unauthenticated("invalid or revoked API token")
        # Session-only code (login, logout) reads request.user.
        request.user = user
        return user


class CookieAuth(APIKeyCookie):
    """The Django session cookie; unsafe methods must carry the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        # The CSRF check runs below, only once we know the caller is logged in,
        # so an anonymous caller gets 401 rather than a CSRF 403.
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method in UNSAFE_METHODS:
            require_csrf(request)
        return user


def require_csrf(request: HttpRequest) -> None:
    """Raise CsrfFailed unless the request carries a valid CSRF token."""
    if check_csrf(request) is not None:
        raise CsrfFailed(
            "CSRF check failed: send the token from GET /api/auth/csrf in the X-CSRFToken header"
        )
