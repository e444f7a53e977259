from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    # No models: what it reads and writes are sessions_app's and tags' tables (and jobs').
    name = "datasets"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from datasets.export_job import export_run
        from jobs.models import JobKind
        from jobs.runners import runner_register

        # Models are ready only now: the runner imports them.
        runner_register(JobKind.EXPORT, export_run)
