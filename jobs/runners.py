"""Which function runs a job of each kind.

The jobs app runs its own kinds (autotag); an app above it that brings a
kind of its own (datasets: export) registers its runner when Django starts
(its AppConfig.ready), so jobs never imports the apps that use it. A runner
is registered by its dotted path and imported with the first job of its kind:
every command and server starts Django, and few run jobs (the autotag runner
brings numpy and onnxruntime, the export runner every dataset format).
"""

import threading
from collections.abc import Callable
from typing import Protocol, cast

from django.utils.module_loading import import_string

from jobs.models import Job


class Stopped(Exception):
    """The worker is stopping: the job goes back to the queue as it stands."""


class Runner(Protocol):
    def __call__(
        self,
        job: Job,
        *,
        worker_id: str,
        stop: threading.Event,
        on_progress: Callable[[Job], object] | None = None,
    ) -> Job: ...


RUNNERS: dict[str, str] = {}


def runner_register(kind: str, runner_path: str) -> None:
    """Name (by dotted path) the function that carries jobs of `kind` to their end."""
    RUNNERS[kind] = runner_path


def runner_for(kind: str) -> Runner:
    if kind not in RUNNERS:
        # Registered in jobs/apps.py and the using apps' ready(): a kind without one is a bug.
        raise LookupError(f"no runner for jobs of kind {kind!r}")
    return cast(Runner, import_string(RUNNERS[kind]))
