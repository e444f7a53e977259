"""Every change to a job: queued, claimed, advanced, released, finished, cancelled.

Each state change a person would want to see is logged in the session as a
`job.changed` event (and so broadcast after commit); progress between them
is broadcast as a `job` frame only, because the job row holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import FINISHED, Job, JobKind, JobState, WorkerBeat
from jobs.selectors import claimable, job_shape
from sessions_app.event_kinds import Kind
from sessions_app.events import append_event, broadcast_progress
from sessions_app.models import SessionEvent, TaggingSession
from sessions_app.outcome import Outcome
from tagger_project.errors import Conflict, InvalidInput
from taggers.selectors import tagger_info

if TYPE_CHECKING:
    # A type only: the module (numpy, via taggers) would load in every
    # process's set-up, as the jobs admin imports this one.
    from sessions_app.services.autotag import AutotagOptions

# One job names at most this many images (its params hold their ids).
MAX_JOB_IMAGES = 100_000


def _log(job: Job, *, actor) -> SessionEvent:
    return append_event(
        job.session_id, kind=Kind.JOB_CHANGED, payload={"job": job_shape(job)}, actor=actor
    )


@transaction.atomic
def autotag_enqueue(
    session: TaggingSession,
    *,
    actor,
    image_ids: Sequence[int],
    model: str,
    options: AutotagOptions,
) -> Outcome[Job]:
    """Queue an auto-tagging job over the selected images (the caller checked the role).

    Refused with a clear error, queueing nothing, for an unknown or unusable
    model and an empty selection.
    """
    info = tagger_info(model)
    ids = list(dict.fromkeys(image_ids))
    if not ids:
        raise InvalidInput("the selection holds no images")
    if len(ids) > MAX_JOB_IMAGES:
        raise InvalidInput(f"one job takes at most {MAX_JOB_IMAGES} images")
    return job_enqueue(
        session,
        actor=actor,
        kind=JobKind.AUTOTAG,
        params={
            "model": info.name,
            "model_sha256": info.sha256,
            "options": options.as_dict(),
            "image_ids": ids,
        },
        total=len(ids),
    )


@transaction.atomic
def job_enqueue(
    session: TaggingSession, *, actor, kind: str, params: dict, total: int
) -> Outcome[Job]:
    """Queue a job of `kind` whose params the caller has checked; logged in the session."""
    job = Job.objects.create(
        session=session, kind=kind, created_by=actor, params=params, total=total
    )
    return Outcome(job, (_log(job, actor=actor),))


@transaction.atomic
def job_cancel(job: Job, *, actor) -> Outcome[Job]:
    """Cancel a job: at once when queued, after its current chunk when running."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state in FINISHED:
        raise Conflict(f"job {job.pk} has finished already ({job.state})")
    if job.state == JobState.QUEUED:
        job.state = JobState.CANCELLED
        job.finished_at = timezone.now()
    elif job.cancel_requested:
        return Outcome(job)
    job.cancel_requested = True
    job.save(update_fields=["state", "finished_at", "cancel_requested"])
    return Outcome(job, (_log(job, actor=actor),))


@transaction.atomic
def job_claim(worker_id: str, *, job_id: int | None = None) -> Outcome[Job | None]:
    """Take the oldest claimable job (that one, when given) under a fresh lease; None if none.

    The job's first start is logged (its state moves to running in every browser).

    On PostgreSQL workers skip rows another is claiming (SKIP LOCKED); on
    SQLite the IMMEDIATE transaction is the lock, so claims take turns.
    """
    now = timezone.now()
    jobs = Job.objects.select_for_update(skip_locked=True, of=("self",)).filter(claimable(now))
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    job = jobs.select_related("created_by").order_by("id").first()
    if job is None:
        return Outcome(None)
    first_start = job.state == JobState.QUEUED
    job.state = JobState.RUNNING
    job.worker_id = worker_id
    job.lease_until = now + timedelta(seconds=settings.TAGGER_JOB_LEASE_S)
    job.attempts += 1
    job.started_at = job.started_at or now
    job.save(update_fields=["state", "worker_id", "lease_until", "attempts", "started_at"])
    if first_start:
        return Outcome(job, (_log(job, actor=job.created_by),))
    return Outcome(job)


class LostLease(Exception):
    """The job is no longer this worker's (its lease ran out and another took it)."""


@transaction.atomic
def job_advance(
    job: Job,
    *,
    worker_id: str,
    done: int,
    inferred: int,
    failures: dict[str, str],
    result: dict | None = None,
) -> Job:
    """Record a committed chunk and renew the lease; LostLease when the job is not ours.

    `result`, when given, is what the job has done so far (it replaces the last).
    """
    row = job_held(job, worker_id)
    row.done = done
    row.inferred += inferred
    row.failures = {**row.failures, **failures}
    if result is not None:
        row.result = result
    row.lease_until = timezone.now() + timedelta(seconds=settings.TAGGER_JOB_LEASE_S)
    row.save(update_fields=["done", "inferred", "failures", "result", "lease_until"])
    shape = job_shape(row)
    transaction.on_commit(lambda: broadcast_progress(row.session_id, shape))
    return row


def job_held(job: Job, worker_id: str) -> Job:
    """The job's row, locked for this transaction; LostLease when the worker no longer holds it."""
    row = Job.objects.select_for_update(of=("self",)).select_related("created_by").get(pk=job.pk)
    if row.state != JobState.RUNNING or row.worker_id != worker_id:
        raise LostLease(f"job {job.pk} is no longer held by {worker_id}")
    return row


@transaction.atomic
def job_release(job: Job, *, worker_id: str) -> None:
    """Give a running job back to the queue (a worker stopping): another resumes it at once."""
    row = Job.objects.select_for_update().get(pk=job.pk)
    if row.state == JobState.RUNNING and row.worker_id == worker_id:
        row.lease_until = timezone.now()
        row.save(update_fields=["lease_until"])


def job_finish(
    job: Job,
    *,
    worker_id: str,
    state: str,
    error: str = "",
    result: dict | None = None,
) -> Outcome[Job]:
    """End a job held by this worker (call inside the transaction of its last write)."""
    row = job_held(job, worker_id)
    row.state = state
    row.error = error[:2000]
    row.result = result or {}
    row.finished_at = timezone.now()
    row.lease_until = None
    row.save(update_fields=["state", "error", "result", "finished_at", "lease_until"])
    return Outcome(row, (_log(row, actor=row.created_by),))


def worker_beat(worker_id: str) -> None:
    """Say that this worker is up (jobs.selectors.worker_up reads it)."""
    WorkerBeat.objects.update_or_create(worker_id=worker_id, defaults={"last_seen": timezone.now()})


def worker_gone(worker_id: str) -> None:
    WorkerBeat.objects.filter(worker_id=worker_id).delete()
