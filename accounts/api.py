"""Auth endpoints: CSRF cookie, login/logout with the session cookie, API tokens."""

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.views.decorators.csrf import ensure_csrf_cookie
from ninja import Router, Status
from ninja.decorators import decorate_view

from accounts import services
from accounts.auth import Unauthenticated, require_csrf
from accounts.schemas import CsrfOut, LoginIn, MeOut, TokenIn, TokenOut
from tagger_project.schemas import Id, answers

router = Router(tags=["auth"])


def _me(user) -> dict:
    return {"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff}


@router.get("/csrf", auth=None, response=answers(CsrfOut))
@decorate_view(ensure_csrf_cookie)
def csrf(request: HttpRequest):
    """Set the CSRF cookie; browsers echo it in X-CSRFToken on unsafe requests."""
    return {"csrf_token": get_token(request)}


@router.post("/login", auth=None, response=answers(MeOut))
def login_view(request: HttpRequest, payload: LoginIn):
    """Log in with username and password; sets the session cookie."""
    # No user yet, so no auth class checked CSRF: a forged login is still an attack.
    require_csrf(request)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise Unauthenticated("wrong username or password")
    login(request, user)
    return _me(user)


@router.post("/logout", response=answers(None, 204))
def logout_view(request: HttpRequest):
    """End the cookie session."""
    logout(request)
    return Status(204, None)


@router.get("/me", response=answers(MeOut))
def me(request: HttpRequest):
    """Who the caller is."""
    return _me(request.auth)


@router.post("/tokens", response=answers(TokenOut, 201))
def token_create(request: HttpRequest, payload: TokenIn):
    """Issue a personal API token; the secret is in this answer only."""
    token, secret = services.token_create(request.auth, name=payload.name)
    body = {"id": token.pk, "token": secret, "name": token.name, "created_at": token.created_at}
    return Status(201, body)


@router.delete("/tokens/{token_id}", response=answers(None, 204))
def token_delete(request: HttpRequest, token_id: Id):
    """Revoke one of your tokens."""
    services.token_delete(request.auth, token_id=token_id)
    return Status(204, None)
