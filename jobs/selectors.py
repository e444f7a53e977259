"""Reads of jobs: their shape for every door, a session's list, whether a worker is up."""

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from jobs.models import Job, JobState, WorkerBeat
from sessions_app.models import TaggingSession
from tagger_project.errors import NotFound

# A worker beats at least this often while it is up (jobs/worker.py).
BEAT_S = 5


def job_shape(job: Job) -> dict[str, Any]:
    """The job as the API, the socket's `job` frames and the `job.changed` events show it."""
    params = job.params or {}
    return {
        "id": job.pk,
        "session_id": job.session_id,
        "kind": job.kind,
        "state": job.state,
        "model": params.get("model", ""),
        "format": params.get("format", ""),
        "options": params.get("options", {}),
        "total": job.total,
        "done": job.done,
        "inferred": job.inferred,
        "failed": len(job.failures or {}),
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "error": job.error,
        "result": job.result or {},
        "created_by": job.created_by.get_username()
        if job.created_by_id and job.created_by
        else None,
        # Text, not datetimes: the shape also travels in event payloads (JSON columns).
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def jobs_for_session(session: TaggingSession, *, active: bool, limit: int) -> list[dict]:
    """The session's jobs, newest first; `active`: only those queued or running."""
    jobs = Job.objects.filter(session=session).select_related("created_by")
    if active:
        jobs = jobs.filter(state__in=(JobState.QUEUED, JobState.RUNNING))
    return [job_shape(job) for job in jobs.order_by("-id")[:limit]]


def job_in_session(session: TaggingSession, job_id: int) -> Job:
    """The session's job of that id; NotFound for another session's (its existence included)."""
    job = Job.objects.filter(session=session, pk=job_id).select_related("created_by").first()
    if job is None:
        raise NotFound(f"job {job_id} does not exist in this session")
    return job


def claimable(now=None) -> Q:
    """Jobs a worker may take: queued, or running under a lease that has run out."""
    now = now or timezone.now()
    return Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, lease_until__lt=now)


def worker_up() -> bool:
    """Whether some worker has beaten recently enough to be taking jobs."""
    recent = timezone.now() - timedelta(seconds=BEAT_S * 3)
    return WorkerBeat.objects.filter(last_seen__gte=recent).exists()
