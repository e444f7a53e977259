from django.apps import AppConfig


class TaggersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "taggers"
    verbose_name = "Auto-taggers"
