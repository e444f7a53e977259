"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from tagger_project.http_handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
django_asgi_app = get_asgi_application()

# These import models, so Django must be set up first.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402
from tagger_project.ws_auth import BearerTokenMiddleware  # noqa: E402
from tagger_project.ws_origin import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Scheme, host and port, not only the host.
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(BearerTokenMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
