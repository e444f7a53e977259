from django.apps import AppConfig


class LiveConfig(AppConfig):
    # Models stay in sessions_app (ClientConnection's table is sessions_app_*).
    name = "live"
    verbose_name = "Live connections"
