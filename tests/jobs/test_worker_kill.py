"""A worker killed (SIGKILL) in the middle of a job, and another started: the job resumes.

Real `manage.py worker` subprocesses on the test database, a model slow
enough per image (2048 px input) that the kill lands mid-job.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from jobs.models import Job, JobState
from jobs.services import autotag_enqueue
from sessions_app.event_kinds import Kind
from sessions_app.models import SessionEvent, SessionImageTag
from sessions_app.services.autotag import autotag_options
from taggers.models import Prediction
from taggers.runtime import forget_taggers
from taggers.selection import select_tags
from taggers.selectors import tagger_named
from taggers.services import stored_scores
from tests.jobs.conftest import store_images
from tests.support import workers
from tests.support.taggers import write_tagger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

IMAGES = 40
SLOW = "wd-slow"


def start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=workers.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def watch(job: Job, progress: list[int], until, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        progress.append(job.done)
        if until(job):
            return
        time.sleep(0.05)
    raise AssertionError(f"job stuck at {job.done}/{job.total} ({job.state})")


@pytest.fixture
def slow_model(tmp_path, settings):
    root = tmp_path / "tagger-models"
    write_tagger(root / SLOW, size=2048)
    settings.TAGGER_MODELS_DIR = root
    yield root
    forget_taggers()


def test_killed_worker_job_resumes_each_image_tagged_once(
    session, alice, media, slow_model, tmp_path
):
    images = store_images(session, alice, IMAGES)
    job = autotag_enqueue(
        session,
        actor=alice,
        image_ids=[image.pk for image in images],
        model=SLOW,
        options=autotag_options(general_threshold=0.2),
    ).value
    env = {
        **os.environ,
        "DATABASE_URL": workers.test_database_url(),
        "MEDIA_ROOT": str(media),
        "TAGGER_MODELS_DIR": str(slow_model),
        "TAGGER_JOB_CHUNK": "2",
        "TAGGER_JOB_LEASE_S": "2",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    progress: list[int] = []
    with open(tmp_path / "worker.log", "ab") as log:
        first = start_worker(env, log)
        try:
            watch(job, progress, until=lambda j: j.done >= 10)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        job.refresh_from_db()
        done_at_kill, inferred_at_kill = job.done, job.inferred
        stored_at_kill = Prediction.objects.count()
        assert job.state == JobState.RUNNING and 10 <= done_at_kill < IMAGES
        killed_at = len(progress)

        second = start_worker(env, log)
        try:
            watch(job, progress, until=lambda j: j.finished)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)

    assert job.state == JobState.DONE, (tmp_path / "worker.log").read_text()[-3000:]
    assert job.attempts == 2 and job.done == IMAGES
    # Progress continuous: never back, and the second worker starts where the first stopped.
    assert progress == sorted(progress)
    assert min(progress[killed_at:]) >= done_at_kill
    # Every image run through the model once: what was stored is not inferred again.
    assert Prediction.objects.count() == IMAGES
    assert job.inferred == inferred_at_kill + (IMAGES - stored_at_kill)
    # Nothing applied twice: each image in one chunk's application, and holds its tags once.
    applied = SessionEvent.objects.filter(session=session, kind=Kind.AUTOTAG_APPLIED)
    named = [i for event in applied for i in event.payload["image_ids"]]
    assert sorted(named) == sorted(image.pk for image in images)
    assert {event.payload["group"] for event in applied} == {f"job:{job.pk}"}
    tagger = tagger_named(SLOW)
    options = autotag_options(general_threshold=0.2).selection
    want = {
        image_id: [t.name for t in select_tags(scores, tagger.labels, options)]
        for image_id, scores in stored_scores(tagger, [image.pk for image in images])
    }
    for image in images:
        rows = SessionImageTag.objects.filter(entry__session=session, entry__image=image)
        names = list(rows.order_by("position").values_list("tag__name", flat=True))
        assert names == want[image.pk]
