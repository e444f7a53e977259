from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    # No models: what it reads and writes are sessions_app's and tags' tables.
    name = "datasets"
    verbose_name = "Datasets"
