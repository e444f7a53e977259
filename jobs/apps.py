from django.apps import AppConfig


def _autotag_run(job, **kwargs):
    # Imported with the first auto-tagging job: numpy and onnxruntime are not
    # loaded by every command and server that starts Django.
    from jobs.autotag import autotag_run

    return autotag_run(job, **kwargs)


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from jobs.models import JobKind
        from jobs.runners import runner_register

        # Models are ready only now: the runner imports them.
        runner_register(JobKind.AUTOTAG, _autotag_run)
