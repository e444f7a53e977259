"""Running an auto-tagging job: infer chunk by chunk, then apply once.

Predictions are stored per image content and model as each batch completes
(taggers.services.predictions_for), and the job's progress is committed
after each chunk. A worker that resumes a job asks the store what is left,
so no image is run through the model again once its scores are stored, and
the count it reports starts where the last one stopped. The application is
one transaction with the job's end: it happens once, as one undoable event.
"""

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from images.models import Image
from jobs.models import Job, JobState
from jobs.services import job_advance, job_finish, job_held, job_release
from sessions_app.models import Role
from sessions_app.permissions import has_role, role_of
from sessions_app.services.autotag import autotag_apply, autotag_options
from tagger_project.errors import DomainError
from taggers.runtime import Tagger
from taggers.selectors import tagger_named
from taggers.services import predicted_ids, predictions_for

logger = logging.getLogger(__name__)


class Stopped(Exception):
    """The worker is stopping: the job goes back to the queue as it stands."""


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
            return job_finish(job, worker_id=worker_id, state=JobState.FAILED, error=exc.message)
    image_ids: list[int] = job.params["image_ids"]
    failures = dict(job.failures or {})
    # Stored by an earlier attempt, or by another job with this model: not run again.
    finished = predicted_ids(tagger, image_ids) | {int(i) for i in failures}
    remaining = [image_id for image_id in image_ids if image_id not in finished]
    chunk_size = max(1, settings.TAGGER_JOB_CHUNK)
    while remaining:
        if stop.is_set():
            job_release(job, worker_id=worker_id)
            raise Stopped
        job.refresh_from_db(fields=["cancel_requested"])
        if job.cancel_requested:
            with transaction.atomic():
                return job_finish(job, worker_id=worker_id, state=JobState.CANCELLED)
        chunk, remaining = remaining[:chunk_size], remaining[chunk_size:]
        images = list(Image.objects.filter(pk__in=chunk))
        missing = set(chunk) - {image.pk for image in images}
        predictions = predictions_for(images, tagger)
        failed = {str(i): reason for i, reason in predictions.failed.items()}
        failed.update({str(i): "the image was deleted" for i in missing})
        finished |= set(chunk)
        job = job_advance(
            job,
            worker_id=worker_id,
            done=len(finished),
            inferred=predictions.inferred,
            failures=failed,
        )
        if on_progress is not None:
            on_progress(job)
    return _apply(job, tagger=tagger, options=options, worker_id=worker_id)


def _tagger(job: Job) -> Tagger:
    tagger = tagger_named(job.params["model"])
    if tagger.sha256 != job.params["model_sha256"]:
        raise DomainError(
            f"the model {tagger.name!r} was replaced since the job was queued; queue it again"
        )
    return tagger


@transaction.atomic
def _apply(job: Job, *, tagger: Tagger, options, worker_id: str) -> Job:
    session = job.session
    actor = job.created_by
    # Locked first: a cancel asked for now waits, and one asked for before is seen.
    job = job_held(job, worker_id)
    if job.cancel_requested:
        # Asked for during the last chunk: nothing is applied.
        return job_finish(job, worker_id=worker_id, state=JobState.CANCELLED)
    if not has_role(role_of(actor, session), Role.EDITOR):
        # Access is checked for as long as the work lasts, not only when it was asked for.
        return job_finish(
            job,
            worker_id=worker_id,
            state=JobState.FAILED,
            error="whoever started the job can no longer edit this session",
        )
    result = autotag_apply(
        session,
        actor=actor,
        image_ids=job.params["image_ids"],
        tagger=tagger,
        options=options,
        job_id=job.pk,
    )
    return job_finish(
        job,
        worker_id=worker_id,
        state=JobState.DONE,
        result={
            "seq": result.seq,
            "changed": len(result.changed_image_ids),
            "tags_added": result.tags_added,
            "suggestions_added": result.suggestions_added,
        },
    )


RUNNERS = {"autotag": autotag_run}
