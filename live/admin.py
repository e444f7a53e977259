"""Admin for live WebSocket connections: read-only, the rows every worker writes."""

from django.contrib import admin

from sessions_app.models import ClientConnection
from tagger_project.admin_readonly import ReadOnlyAdmin


@admin.register(ClientConnection)
class ClientConnectionAdmin(ReadOnlyAdmin):
    """Rows follow the sockets; the workers own them, so nobody edits them here."""

    list_display = [
        "client_id",
        "user",
        "session",
        "worker_id",
        "connected_at",
        "last_seen",
        "frames_in",
        "frames_out",
        "image_id",
    ]
    list_filter = ["worker_id", "session"]
    list_select_related = ["user", "session"]
    search_fields = ["client_id", "user__username"]
    ordering = ["-connected_at"]
