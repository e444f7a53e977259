"""A job worker: claim a job, run it, repeat; in `manage.py worker` or a thread of `serve`.

Looking for work is a plain read; only when a job is there does the worker
open the claiming transaction, so an idle worker never takes SQLite's
write lock.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from jobs.models import Job, JobState
from jobs.runners import Stopped, runner_for
from jobs.selectors import BEAT_S, claimable
from jobs.services import LostLease, job_claim, job_finish, worker_beat, worker_gone

logger = logging.getLogger(__name__)

# Seconds between looks for work when there is none.
POLL_S = 1.0


def new_worker_id(suffix: str = "") -> str:
    return f"{socket.gethostname()}:{os.getpid()}{suffix}"


class Worker:
    def __init__(
        self,
        *,
        worker_id: str | None = None,
        poll_s: float = POLL_S,
        on_progress: Callable[[Job], object] | None = None,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.poll_s = poll_s
        # Called with the job after each committed chunk (the autotag command's bar).
        self.on_progress = on_progress
        self.stop = threading.Event()
        # The thread it runs in, when started by start_in_thread.
        self.thread: threading.Thread | None = None
        self._last_beat = 0.0

    def run(self, *, until_idle: bool = False) -> None:
        """Take jobs until `stop` is set (or, with `until_idle`, until there is none)."""
        lower_priority()
        try:
            while not self.stop.is_set():
                self._beat()
                if not self.run_once() and until_idle:
                    return
                if not self.stop.is_set():
                    self.stop.wait(self.poll_s)
        finally:
            self._close()

    def run_once(self, job_id: int | None = None) -> bool:
        """Claim and run one job (that one, when given); False when there was none."""
        close_old_connections()
        waiting = Job.objects.filter(claimable())
        if job_id is not None:
            waiting = waiting.filter(pk=job_id)
        if not waiting.exists():
            return False
        job = job_claim(self.worker_id, job_id=job_id).value
        if job is None:
            return False
        self.run_job(job)
        return True

    def run_job(self, job: Job) -> None:
        runner = runner_for(job.kind)
        try:
            runner(job, worker_id=self.worker_id, stop=self.stop, on_progress=self.on_progress)
        except Stopped:
            logger.info("job %s given back: worker %s stopping", job.pk, self.worker_id)
        except LostLease:
            logger.warning("job %s was taken over from %s", job.pk, self.worker_id)
        except Exception as exc:
            logger.exception("job %s failed", job.pk)
            with contextlib.suppress(LostLease):
                job_finish_failed(
                    job, worker_id=self.worker_id, error=f"{type(exc).__name__}: {exc}"
                )

    def _beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= BEAT_S:
            worker_beat(self.worker_id)
            self._last_beat = now

    def _close(self) -> None:
        try:
            worker_gone(self.worker_id)
        finally:
            connection.close()


def job_finish_failed(job: Job, *, worker_id: str, error: str) -> None:
    with transaction.atomic():
        job_finish(job, worker_id=worker_id, state=JobState.FAILED, error=error)


def lower_priority() -> None:
    """Run this thread (and the inference threads it starts) below the web server's."""
    # Not Linux, or not allowed: run at the normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), settings.TAGGER_WORKER_NICE)


def start_in_thread(worker_id: str | None = None) -> Worker:
    """A worker in a daemon thread of this process (the `serve` command's)."""
    worker = Worker(worker_id=worker_id or new_worker_id(":jobs"))
    thread = threading.Thread(target=worker.run, name="tagger-jobs", daemon=True)
    worker.thread = thread
    thread.start()
    return worker
