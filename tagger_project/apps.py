from django.apps import AppConfig


class TaggerProjectConfig(AppConfig):
    name = "tagger_project"
    verbose_name = "Tagger"

    def ready(self) -> None:
        from tagger_project import checks  # noqa: F401  (registers the system checks)
