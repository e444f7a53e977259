"""Running an auto-tagging job: chunk by chunk, each chunk inferred, then applied.

Predictions are stored per image content and model as each batch completes
(taggers.services.predictions_for). A chunk's application and the job's
progress (`done`, a cursor into the job's image ids) commit in one
transaction, so a worker that resumes a job starts at the first chunk not
applied: nothing is applied twice, no stored prediction is inferred again,
and the count it reports starts where the last one stopped. Each chunk is
one `autotag.applied` event, so the tags reach every browser as the job
goes; the events carry the job's undo group (sessions_app/services/undo.py),
so one undo takes the whole job back.
"""

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from images.models import Image
from jobs.models import Job, JobState
from jobs.runners import Stopped
from jobs.services import job_advance, job_finish, job_held, job_release
from sessions_app.models import Role
from sessions_app.outcome import Outcome
from sessions_app.permissions import has_role, role_of
from sessions_app.services.autotag import AutotagResult, autotag_apply, autotag_options
from tagger_project.errors import DomainError
from taggers.runtime import Tagger
from taggers.selectors import tagger_named
from taggers.services import predictions_for

logger = logging.getLogger(__name__)

# What a job's result adds up over its chunks.
COUNTS = ("changed", "tags_added", "suggestions_added")


def autotag_run(
    job: Job,
    *,
    worker_id: str,
    stop: threading.Event,
    on_progress: Callable[[Job], object] | None = None,
) -> Job:
    """Carry the job to its end (or give it back when `stop` is set); the job's last state."""
    try:
        tagger = _tagger(job)
        options = autotag_options(**job.params["options"])
    except DomainError as exc:
        with transaction.atomic():
            return job_finish(
                job, worker_id=worker_id, state=JobState.FAILED, error=exc.message
            ).value
    image_ids: list[int] = job.params["image_ids"]
    chunk_size = max(1, settings.TAGGER_JOB_CHUNK)
    while job.done < len(image_ids):
        if stop.is_set():
            job_release(job, worker_id=worker_id)
            raise Stopped
        chunk = image_ids[job.done : job.done + chunk_size]
        images = list(Image.objects.filter(pk__in=chunk))
        missing = set(chunk) - {image.pk for image in images}
        predictions = predictions_for(images, tagger)
        failed = {str(i): reason for i, reason in predictions.failed.items()}
        failed.update({str(i): "the image was deleted" for i in missing})
        with transaction.atomic():
            # Locked first: a cancel asked for now waits, and one asked for before is seen.
            held = job_held(job, worker_id)
            ended = _ended_early(held, worker_id)
            if ended is not None:
                return ended
            applied = autotag_apply(
                held.session,
                actor=held.created_by,
                image_ids=chunk,
                tagger=tagger,
                options=options,
                job_id=held.pk,
            )
            job = job_advance(
                held,
                worker_id=worker_id,
                done=held.done + len(chunk),
                inferred=predictions.inferred,
                failures=failed,
                result=_summed(held.result, applied),
            )
        if on_progress is not None:
            on_progress(job)
    with transaction.atomic():
        return job_finish(job, worker_id=worker_id, state=JobState.DONE, result=job.result).value


def _tagger(job: Job) -> Tagger:
    tagger = tagger_named(job.params["model"])
    if tagger.sha256 != job.params["model_sha256"]:
        raise DomainError(
            f"the model {tagger.name!r} was replaced since the job was queued; queue it again"
        )
    return tagger


def _ended_early(job: Job, worker_id: str) -> Job | None:
    """The job ended before its next chunk (cancelled, or its author lost the right to edit)."""
    if job.cancel_requested:
        # What earlier chunks applied stays (one undo takes it back); nothing more is.
        return job_finish(
            job, worker_id=worker_id, state=JobState.CANCELLED, result=job.result
        ).value
    if not has_role(role_of(job.created_by, job.session), Role.EDITOR):
        # Access is checked for as long as the work lasts, not only when it was asked for.
        return job_finish(
            job,
            worker_id=worker_id,
            state=JobState.FAILED,
            error="whoever started the job can no longer edit this session",
            result=job.result,
        ).value
    return None


def _summed(result: dict, outcome: Outcome[AutotagResult]) -> dict:
    """The job's result with one more chunk's application counted in."""
    applied = outcome.value
    counts = {
        "changed": len(applied.changed_image_ids),
        "tags_added": applied.tags_added,
        "suggestions_added": applied.suggestions_added,
    }
    summed = {key: (result or {}).get(key, 0) + counts[key] for key in COUNTS}
    # The last event the job logged (None until a chunk changed something).
    summed["seq"] = outcome.seq if outcome.seq is not None else (result or {}).get("seq")
    return summed
