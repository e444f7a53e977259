"""A dataset export built by a background job into a stored file, then downloaded.

Zipping a large session takes minutes: as a job it runs whether or not the
browser that asked stays open, everyone in the session sees its bar (the
job's progress frames and `job.changed` events), and the result is a plain
stored file that a member downloads as often as they like (datasets/api.py
checks membership on every download). A worker that stops mid-export gives
the job back and the next one builds it again from the start: a zip stream
cannot be resumed halfway.
"""

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from datasets.exporting import ExportOptions, ExportReport, export_stream
from images.delivery import Delivery
from jobs.models import Job, JobKind, JobState
from jobs.runners import Stopped
from jobs.services import job_advance, job_enqueue, job_finish, job_release
from sessions_app.models import SessionImage, TaggingSession
from tagger_project.errors import Conflict, DomainError, NotFound

# Where built exports are stored: one folder per job.
EXPORTS_DIR = "exports"


@transaction.atomic
def export_enqueue(session: TaggingSession, *, actor, fmt: str, options: ExportOptions) -> Job:
    """Queue building the session's export (the caller checked membership).

    Refused with the same error a streamed export gives, queueing nothing,
    for an unknown format or a bad option.
    """
    # Builds the writer and resolves the options: raises before anything is queued.
    export_stream(session, fmt, options)
    images = SessionImage.objects.filter(session=session)
    if options.statuses:
        images = images.filter(status__in=options.statuses)
    return job_enqueue(
        session,
        actor=actor,
        kind=JobKind.EXPORT,
        params={"format": fmt, "options": asdict(options)},
        total=images.count(),
    ).value


class _Cancelled(Exception):
    """Someone cancelled the export while it was being built."""


class _Progress:
    """ExportReport's per-image callback: commit progress now and then, and see cancel and stop."""

    def __init__(self, job: Job, *, worker_id: str, stop: threading.Event, on_progress) -> None:
        self.job = job
        self.worker_id = worker_id
        self.stop = stop
        self.on_progress = on_progress
        self.report = ExportReport(on_image=self.tick)
        self.last = time.monotonic()

    def tick(self) -> None:
        if self.stop.is_set():
            raise Stopped
        if time.monotonic() - self.last >= settings.TAGGER_EXPORT_PROGRESS_MS / 1000:
            self.commit()

    def commit(self) -> None:
        self.last = time.monotonic()
        done = min(self.report.images, self.job.total)
        self.job = job_advance(
            self.job, worker_id=self.worker_id, done=done, inferred=0, failures={}
        )
        if self.job.cancel_requested:
            raise _Cancelled
        if self.on_progress is not None:
            self.on_progress(self.job)


def export_run(
    job: Job,
    *,
    worker_id: str,
    stop: threading.Event,
    on_progress: Callable[[Job], object] | None = None,
) -> Job:
    """Build the export into the storage; the job's last state."""
    progress = _Progress(job, worker_id=worker_id, stop=stop, on_progress=on_progress)
    try:
        options = _options(job.params["options"])
        stream = export_stream(job.session, job.params["format"], options, progress.report)
        name = export_storage_name(job, stream.filename)
        default_storage.delete(name)  # left by an attempt that stopped
        with tempfile.TemporaryFile() as spool:
            for chunk in stream.chunks:
                spool.write(chunk)
            size = spool.tell()
            spool.seek(0)
            stored = default_storage.save(name, File(spool, name=stream.filename))
    except Stopped:
        job_release(job, worker_id=worker_id)
        raise
    except _Cancelled:
        with transaction.atomic():
            return job_finish(progress.job, worker_id=worker_id, state=JobState.CANCELLED).value
    except DomainError as exc:
        with transaction.atomic():
            return job_finish(
                job, worker_id=worker_id, state=JobState.FAILED, error=exc.message
            ).value
    report = progress.report
    result = {
        "filename": stream.filename,
        "size": size,
        "images": report.images,
        "renamed": len(report.renamed),
        "missing": len(report.missing),
        "notes": report.notes,
    }
    assert stored == name, "the storage renamed the export"
    with transaction.atomic():
        progress.job = job_advance(
            progress.job, worker_id=worker_id, done=progress.job.total, inferred=0, failures={}
        )
        finished = job_finish(
            progress.job, worker_id=worker_id, state=JobState.DONE, result=result
        ).value
        _expire_older(finished)
        return finished


def _expire_older(job: Job) -> None:
    """Delete the files of the author's earlier exports of the session: the new one replaces them.

    An export is a copy of the whole dataset; kept per build, they would fill
    the storage. Another member's exports are theirs to replace.
    """
    older = [
        old
        for old in Job.objects.select_for_update().filter(
            session_id=job.session_id,
            kind=JobKind.EXPORT,
            state=JobState.DONE,
            created_by_id=job.created_by_id,
            pk__lt=job.pk,
        )
        # In Python: a JSON key's NOT in SQL would also drop the rows that lack it.
        if not old.result.get("expired")
    ]
    names = [export_storage_name(old, old.result["filename"]) for old in older]
    for old in older:
        old.result = {**old.result, "expired": True}
    Job.objects.bulk_update(older, ["result"])
    # After commit: a rollback must not leave a done job without its file.
    transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def export_storage_name(job: Job, filename: str) -> str:
    return f"{EXPORTS_DIR}/{job.session_id}/{job.pk}/{filename}"


def export_delivery(job: Job) -> Delivery:
    """The built file of a finished export job (the caller checked the job is the session's)."""
    if job.kind != JobKind.EXPORT:
        raise NotFound(f"job {job.pk} is not an export")
    if job.state != JobState.DONE:
        raise Conflict(f"the export is not ready ({job.state})")
    if job.result.get("expired"):
        raise NotFound("a newer export by the same person replaced this one; build it again")
    filename = job.result["filename"]
    assert job.finished_at is not None
    return Delivery(
        storage_name=export_storage_name(job, filename),
        download_name=filename,
        stored_at=job.finished_at,
    )


def _options(params: dict) -> ExportOptions:
    # JSON turned the tuples into lists. The caption style is the session's, read
    # again when the export resolves its options; the stored copy is only a dict.
    return ExportOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k != "style"}
    )
