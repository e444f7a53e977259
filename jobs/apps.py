from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from jobs.autotag import autotag_run
        from jobs.models import JobKind
        from jobs.runners import runner_register

        # Models are ready only now: the runner imports them.
        runner_register(JobKind.AUTOTAG, autotag_run)
