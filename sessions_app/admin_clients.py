"""Admin for live WebSocket connections: read-only, the rows every worker writes."""

from django.contrib import admin
from django.http import HttpRequest

from sessions_app.models import ClientConnection


@admin.register(ClientConnection)
class ClientConnectionAdmin(admin.ModelAdmin):
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

    # Rows follow the sockets; the workers own them, so nobody edits them here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
