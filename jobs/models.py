"""Background jobs: the queue is this table.

A job is claimed by one worker at a time under a lease that the worker
renews after every chunk of work. A worker that dies (SIGKILL, out of
memory, a lost machine) stops renewing; once its lease has run out any
worker claims the job again and carries on from what was committed. Work
is committed chunk by chunk, so what survives a crash is exactly what was
done, and the job's own row says how far that is.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from sessions_app.models import TaggingSession


class JobKind(models.TextChoices):
    AUTOTAG = "autotag"
    # A dataset export built into a file to download (run by datasets/export_job.py).
    EXPORT = "export"


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class Job(models.Model):
    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    # Whose operation it is: the tags it applies are on their undo stack.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What to do, fixed when queued (for autotag: the model, its sha256, the
    # options and the selected image ids).
    params = models.JSONField(default=dict)
    total = models.PositiveIntegerField(default=0)
    # Items finished so far, in the params' order (for autotag: a cursor into its image ids,
    # each inferred, or unreadable, and applied).
    done = models.PositiveIntegerField(default=0)
    # Of those, how many this job ran through the model (the rest were stored already).
    inferred = models.PositiveIntegerField(default=0)
    # Items that could not be processed, with the reason: {"image id": "why"}.
    failures = models.JSONField(default=dict, blank=True)
    # How many times a worker has claimed it (more than one: it was resumed).
    attempts = models.PositiveIntegerField(default=0)
    worker_id = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    # What the job has done so far (for autotag: its last event's seq and the counts).
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_known"),
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_known"),
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="job_done_within_total"),
        ]
        indexes = [
            # Workers look for claimable jobs by state, oldest first.
            models.Index(fields=["state", "id"], name="job_state_idx"),
            models.Index(fields=["session", "-id"], name="job_session_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} in {self.session_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class WorkerBeat(models.Model):
    """A worker process that is up: `autotag` runs a job itself when none has beaten lately."""

    worker_id = models.CharField(max_length=100, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["worker_id"]

    def __str__(self) -> str:
        return self.worker_id
