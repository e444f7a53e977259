"""WebSocket routes of the sessions app."""

from django.urls import path

from live.consumers import SessionConsumer

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", SessionConsumer.as_asgi()),
]
