"""Browser pages: thin views that render templates; the data comes from selectors and the API."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from sessions_app.event_kinds import browser_kinds
from sessions_app.models import ImageStatus, Role, TaggingSession
from sessions_app.overview import sessions_overview
from sessions_app.permissions import role_of, session_for
from sessions_app.rules import session_rules
from tagger_project.errors import NotFound, PermissionDenied
from tags.models import TagCategory


class LoginView(auth_views.LoginView):
    """Django's sign-in form in Tagger's layout; signed-in users go straight on."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def home(request: HttpRequest) -> HttpResponse:
    """Send people to their sessions (or to sign in first)."""
    return redirect("sessions-list")


@login_required
@ensure_csrf_cookie
def sessions_list(request: HttpRequest) -> HttpResponse:
    """The user's sessions with progress; creating and uploading happen through the API."""
    return render(
        request,
        "sessions/list.html",
        {"rows": sessions_overview(request.user), "statuses": ImageStatus.values},
    )


@login_required
@ensure_csrf_cookie
def workspace(request: HttpRequest, session_id: int) -> HttpResponse:
    """The tagging workspace shell; the modules in static/js fill it from the API and socket."""
    session = _session_or_refusal(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    image = request.GET.get("image", "")
    role = role_of(request.user, session)
    config = {
        "sessionId": session.pk,
        "sessionName": session.name,
        "username": request.user.get_username(),
        "role": role,
        "canEdit": role in ("owner", "editor"),
        "initialImage": int(image) if image.isdigit() else None,
        # The socket resumes from here; the API reads that follow are at least this new.
        "lastSeq": session.last_seq,
        # Event kind names from the one registry (sessions_app/event_kinds.py).
        "eventKinds": browser_kinds(),
        # How a tag list reads in the exported caption, for its live CLIP token count.
        "captionStyle": {
            "triggerWord": session.trigger_word,
            "separator": session.separator,
            "underscores": session.use_underscores,
            "escape": session.escape_parentheses,
        },
    }
    context = {"session": session, "config": config}
    return render(request, "sessions/workspace.html", context)


@login_required
@ensure_csrf_cookie
def insight(request: HttpRequest, session_id: int) -> HttpResponse:
    """Insight into the session's dataset; static/js/insight.js fills it from the stats API."""
    session = _session_or_refusal(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    config = {"sessionId": session.pk, "triggerWord": session.trigger_word}
    return render(request, "sessions/insight.html", {"session": session, "config": config})


@login_required
@ensure_csrf_cookie
def settings_page(request: HttpRequest, session_id: int) -> HttpResponse:
    """Export style (owners) and tag rules (editors); static/js/settings.js saves them."""
    session = _session_or_refusal(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    role = role_of(request.user, session)
    rules = session_rules(session.pk).as_dict()
    config = {"sessionId": session.pk, "role": role, "rules": rules}
    context = {
        "session": session,
        "config": config,
        "role": role,
        "can_style": role == Role.OWNER,
        "can_rule": role in (Role.OWNER, Role.EDITOR),
        "rules": rules,
        "categories": TagCategory.values,
    }
    return render(request, "sessions/settings.html", context)


@login_required
@ensure_csrf_cookie
def sharing_page(request: HttpRequest, session_id: int) -> HttpResponse:
    """Who is in the session; owners add, re-role and remove members (static/js/sharing.js)."""
    session = _session_or_refusal(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    role = role_of(request.user, session)
    config = {
        "sessionId": session.pk,
        "owner": session.owner.get_username(),
        "me": request.user.get_username(),
        "canShare": role == Role.OWNER,
    }
    return render(
        request,
        "sessions/sharing.html",
        {
            "session": session,
            "config": config,
            "can_share": config["canShare"],
            "roles": Role.values,
        },
    )


def _session_or_refusal(
    request: HttpRequest, session_id: int, needed: str = Role.VIEWER
) -> TaggingSession | HttpResponse:
    """The session, or our own 404/403 page (even with DEBUG on, never Django's debug page)."""
    try:
        return session_for(request.user, session_id, needed)
    except NotFound:
        return render(request, "errors/404.html", {"what": "session"}, status=404)
    except PermissionDenied as exc:
        return render(request, "errors/403.html", {"reason": str(exc)}, status=403)
