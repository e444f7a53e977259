"""The jobs API: editors start and cancel, viewers watch, bad input changes nothing."""

import pytest

from jobs.models import Job, JobState
from sessions_app import services as session_services
from tests.jobs.conftest import MODEL

pytestmark = pytest.mark.django_db


def start(client, session, **body):
    payload = {"selection": {"q": ""}, "model": MODEL, **body}
    return client.post(f"/sessions/{session.pk}/jobs/autotag", payload)


def test_editor_starts_a_job_every_member_can_watch(as_, session, bob, carol, stored):
    response = start(as_(bob), session, suggest_threshold=0.2)
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["state"] == "queued" and job["total"] == 6 and job["created_by"] == "bob"
    assert job["options"]["suggest_threshold"] == 0.2
    watched = as_(carol).get(f"/sessions/{session.pk}/jobs/{job['id']}")
    assert watched.status_code == 200 and watched.json()["id"] == job["id"]
    listed = as_(carol).get(f"/sessions/{session.pk}/jobs", active="true").json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "no-such-model"}, 404, "no tagger model named 'no-such-model'"),
        ({"model": "../wd-tiny"}, 404, "no tagger model"),
        ({"general_threshold": 1.5}, 400, "general_threshold must be at least 0 and below 1"),
        ({"character_threshold": -0.1}, 400, "character_threshold must be"),
        ({"suggest_threshold": 0.5}, 400, "suggest_threshold must be below"),
        ({"mode": "overwrite"}, 422, "mode"),
        ({"max_tags": 0}, 400, "max_tags must be at least 1"),
        ({"selection": {"q": "no-such-tag"}}, 400, "the selection holds no images"),
        ({"selection": {"q": "(("}}, 400, ""),
    ],
)
def test_bad_input_is_refused_and_queues_nothing(as_, session, bob, stored, body, status, words):
    response = start(as_(bob), session, **body)
    assert response.status_code == status, response.json()
    assert words.lower() in response.json()["error"]["message"].lower()
    assert not Job.objects.exists()


def test_a_bad_model_folder_is_refused_with_its_reason(as_, session, bob, stored, models_dir):
    (models_dir / "broken").mkdir()
    (models_dir / "broken" / "model.onnx").write_bytes(b"not onnx")
    response = start(as_(bob), session, model="broken")
    assert response.status_code == 400
    assert "selected_tags.csv is missing" in response.json()["error"]["message"]
    assert not Job.objects.exists()


def test_viewer_and_outsider_cannot_start_a_job(as_, session, carol, dave, stored):
    assert start(as_(carol), session).status_code == 403
    assert start(as_(dave), session).status_code == 404
    assert not Job.objects.exists()


def test_cancel_is_for_editors_of_the_jobs_own_session(as_, session, alice, bob, carol, stored):
    job = start(as_(bob), session).json()
    other = session_services.session_create(owner=alice, name="Dogs").value
    assert as_(alice).post(f"/sessions/{other.pk}/jobs/{job['id']}/cancel").status_code == 404
    assert as_(carol).post(f"/sessions/{session.pk}/jobs/{job['id']}/cancel").status_code == 403
    assert Job.objects.get().state == JobState.QUEUED
    cancelled = as_(alice).post(f"/sessions/{session.pk}/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = as_(alice).post(f"/sessions/{session.pk}/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "finished already" in again.json()["error"]["message"]


def test_another_sessions_job_is_not_found(as_, session, alice, bob, stored):
    job = start(as_(bob), session).json()
    other = session_services.session_create(owner=alice, name="Dogs").value
    assert as_(alice).get(f"/sessions/{other.pk}/jobs/{job['id']}").status_code == 404
