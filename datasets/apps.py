from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    # No models: what it reads and writes are sessions_app's and tags' tables (and jobs').
    name = "datasets"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from jobs.models import JobKind
        from jobs.runners import runner_register

        # Models are ready only now: the runner's module imports them.
        runner_register(JobKind.EXPORT, "datasets.export_job.export_run")
