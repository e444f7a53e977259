from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from sessions_app import views as pages
from tagger_project.api import api, api_not_found
from tagger_project.health import health


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Point /favicon.ico at the static icon (resolved per request: static names may be hashed)."""
    return HttpResponsePermanentRedirect(static_url("favicon.ico"))


urlpatterns = [
    path("admin/", admin.site.urls),
    # Pages without our <link rel="icon"> (the admin's) still ask for /favicon.ico.
    path("favicon.ico", favicon),
    path("healthz", health, name="health"),
    # JSON API (README "Using it"); unknown /api/ paths answer in its error shape.
    path("api/", api.urls),
    path("api/<path:rest>", api_not_found),
    # Browser pages: the shells that static/js fills from the API and the socket.
    path("", pages.home, name="home"),
    path("accounts/login/", pages.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("sessions/", pages.sessions_list, name="sessions-list"),
    path("sessions/<int:session_id>/", pages.workspace, name="workspace"),
    path("sessions/<int:session_id>/insight/", pages.insight, name="insight"),
    path("sessions/<int:session_id>/settings/", pages.settings_page, name="session-settings"),
    path("sessions/<int:session_id>/sharing/", pages.sharing_page, name="session-sharing"),
    # No /media/ route, on purpose: stored names are content hashes, and files
    # reach clients only through /api/images/<id>/file and /thumbnail, which
    # authorize every request (images/delivery.py).
]
