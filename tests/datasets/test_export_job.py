"""The browser's export as a job: built in the background with progress, downloaded by members."""

import io
import threading
import zipfile

import pytest
from django.core.files.storage import default_storage

from datasets.export_job import export_run, export_storage_name
from jobs.models import Job, JobKind, JobState
from jobs.services import job_cancel, job_claim
from jobs.worker import Worker
from sessions_app import services
from sessions_app.event_kinds import Kind
from sessions_app.models import SessionEvent
from sessions_app.services.importing import session_import_bytes
from tests.support.api import ApiClient, error_of
from tests.support.images import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 5


@pytest.fixture
def dataset(session, alice, tmp_path, settings):
    """The session with trigger word "mycat" and five stored images, each tagged."""
    settings.MEDIA_ROOT = tmp_path / "media"
    services.session_update(session, actor=alice, trigger_word="mycat")
    for i in range(IMAGES):
        data = png_bytes(color=(40 * i, 20, 90))
        outcome = session_import_bytes(
            session, actor=alice, data=data, original_name=f"{i}.png"
        ).value
        services.tags_add(session, outcome.image_id, actor=alice, names=["red hair", f"pose {i}"])
    return session


def start(user, session, **body):
    return ApiClient(user).post(f"/sessions/{session.pk}/exports", body)


def download(user, session, job_id: int):
    return ApiClient(user).get(f"/sessions/{session.pk}/exports/{job_id}/file")


def built(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_viewer_builds_the_export_and_every_member_downloads_it(dataset, carol, alice):
    response = start(carol, dataset, format="kohya", trigger_word="tabby")
    assert response.status_code == 201, response.json()
    shape = response.json()
    assert shape["kind"] == JobKind.EXPORT and shape["state"] == "queued"
    assert shape["total"] == IMAGES and shape["format"] == "kohya"
    assert Worker(worker_id="test").run_once(shape["id"])
    job = Job.objects.get(pk=shape["id"])
    assert job.state == JobState.DONE and job.done == job.total == IMAGES
    assert job.result["filename"] == "cats-kohya.zip" and job.result["images"] == IMAGES
    streamed = ApiClient(alice).get(
        f"/sessions/{dataset.pk}/export", format="kohya", trigger_word="tabby"
    )
    want = zipfile.ZipFile(io.BytesIO(b"".join(streamed.streaming_content)))
    for user in (carol, alice):
        response = download(user, dataset, job.pk)
        assert response["Content-Disposition"] == 'attachment; filename="cats-kohya.zip"'
        archive = built(response)
        assert archive.namelist() == want.namelist()
        assert archive.read("0.txt") == want.read("0.txt") == b"tabby, red hair, pose 0"
    # Logged as the session's job: everyone's bar follows it.
    states = [
        e.payload["job"]["state"]
        for e in SessionEvent.objects.filter(session=dataset, kind=Kind.JOB_CHANGED)
    ]
    assert states == ["queued", "running", "done"]


def test_an_outsider_can_neither_start_nor_download(dataset, alice, dave):
    assert start(dave, dataset).status_code == 404
    job_id = start(alice, dataset).json()["id"]
    Worker(worker_id="test").run_once(job_id)
    assert download(dave, dataset, job_id).status_code == 404
    assert ApiClient().get(f"/sessions/{dataset.pk}/exports/{job_id}/file").status_code == 401


def test_a_job_of_another_session_or_kind_is_not_downloadable(dataset, alice):
    other = services.session_create(owner=alice, name="Dogs").value
    job_id = start(alice, dataset).json()["id"]
    Worker(worker_id="test").run_once(job_id)
    assert download(alice, other, job_id).status_code == 404


def test_an_unfinished_export_answers_409(dataset, alice):
    job_id = start(alice, dataset).json()["id"]
    response = download(alice, dataset, job_id)
    assert response.status_code == 409 and "not ready" in error_of(response)["message"]


def test_bad_options_are_refused_before_anything_is_queued(dataset, alice):
    # The same refusals as the streamed export's (tests/datasets/test_api_export.py).
    response = start(alice, dataset, separator="   ")
    assert response.status_code == 400 and "separator" in error_of(response)["message"]
    assert start(alice, dataset, format="nope").status_code == 422
    assert start(alice, dataset, bogus=1).status_code == 422
    assert start(alice, dataset, images=0).status_code == 422
    array = ApiClient(alice).post(f"/sessions/{dataset.pk}/exports", [None, None])
    assert array.status_code == 422
    assert not Job.objects.exists()


def test_the_files_caption_source_and_spellings_are_taken(dataset, alice):
    response = start(alice, dataset, caption_source="files", spellings=False)
    assert response.status_code == 201, response.json()
    options = Job.objects.get().params["options"]
    assert (options["caption_source"], options["keep_spellings"]) == ("files", False)


def test_progress_is_committed_while_the_zip_is_built_and_cancel_stops_it(dataset, alice, settings):
    settings.TAGGER_EXPORT_PROGRESS_MS = 0  # after every image
    job_id = start(alice, dataset).json()["id"]
    claimed = job_claim("test", job_id=job_id).value
    seen: list[int] = []

    def watch(row):
        seen.append(row.done)
        if row.done == 2:
            job_cancel(row, actor=alice)

    final = export_run(claimed, worker_id="test", stop=threading.Event(), on_progress=watch)
    assert seen == [1, 2] and final.state == JobState.CANCELLED
    assert download(alice, dataset, job_id).status_code == 409


def test_the_export_records_progress_to_the_end(dataset, alice, settings):
    settings.TAGGER_EXPORT_PROGRESS_MS = 0
    job_id = start(alice, dataset, format="json", images=False).json()["id"]
    seen: list[int] = []
    final = export_run(
        job_claim("test", job_id=job_id).value,
        worker_id="test",
        stop=threading.Event(),
        on_progress=lambda row: seen.append(row.done),
    )
    assert final.state == JobState.DONE and seen == [1, 2, 3, 4, 5]
    response = download(alice, dataset, job_id)
    assert response.status_code == 200
    assert b"red hair" in b"".join(response.streaming_content)


def test_a_newer_export_replaces_its_authors_older_file_only(dataset, alice, bob):
    first, others, second = (start(user, dataset).json()["id"] for user in (alice, bob, alice))
    worker = Worker(worker_id="test")
    for job_id in (first, others, second):
        assert worker.run_once(job_id)
    stored = {
        job.pk: export_storage_name(job, job.result["filename"])
        for job in Job.objects.filter(kind=JobKind.EXPORT)
    }
    response = download(alice, dataset, first)
    assert response.status_code == 404 and "newer export" in error_of(response)["message"]
    assert not default_storage.exists(stored[first])
    for job_id in (others, second):
        assert built(download(alice, dataset, job_id)).namelist()
        assert default_storage.exists(stored[job_id])
