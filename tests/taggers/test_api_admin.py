"""The doors onto the model list: the API for any signed-in user, the admin for staff."""

import pytest
from django.urls import reverse

from taggers.models import TaggerModel
from taggers.selectors import tagger_named
from taggers.services import tagger_model_row
from tests.support.api import ApiClient, error_of
from tests.support.taggers import write_tagger

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders(models_dir):
    write_tagger(models_dir / "wd-tiny")
    write_tagger(models_dir / "wd-fixed", batch=1)
    (models_dir / "empty").mkdir()
    return models_dir


def test_any_signed_in_user_lists_the_models(folders, carol):
    body = ApiClient(carol).get("/taggers").json()
    assert [item["name"] for item in body["items"]] == ["empty", "wd-fixed", "wd-tiny"]
    empty, fixed, tiny = body["items"]
    assert not empty["usable"] and "model.onnx is missing" in empty["error"]
    assert fixed["fixed_batch"] == 1 and tiny["fixed_batch"] is None
    assert tiny | {"sha256": ""} == {
        "name": "wd-tiny",
        "usable": True,
        "error": "",
        "input_size": 32,
        "fixed_batch": None,
        "tag_count": 13,
        "rating_tags": 4,
        "general_tags": 6,
        "character_tags": 3,
        "sha256": "",
    }
    assert body["providers"][-1] == "CPUExecutionProvider"
    assert str(folders) not in str(body)  # no server path leaves


def test_anonymous_callers_are_refused(folders):
    response = ApiClient().get("/taggers")
    assert response.status_code == 401 and error_of(response)["code"] == "unauthenticated"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_admin_lists_folders_with_their_state_and_rows_read_only(folders, admin_client):
    tagger_model_row(tagger_named("wd-tiny"))
    page = admin_client.get(reverse("admin:taggers_taggermodel_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "wd-fixed" in text and "fixed 1" in text and "dynamic" in text
    assert "refused: tagger model &#x27;empty&#x27;: model.onnx is missing" in text
    row = TaggerModel.objects.get()
    assert row.sha256 in text
    assert admin_client.get(reverse("admin:taggers_taggermodel_add")).status_code == 403
    change = admin_client.post(
        reverse("admin:taggers_taggermodel_change", args=[row.pk]), {"name": "renamed"}
    )
    assert change.status_code == 403
    assert TaggerModel.objects.get().name == "wd-tiny"


def test_admin_is_for_staff_only(folders, client, alice):
    client.force_login(alice)
    page = client.get(reverse("admin:taggers_taggermodel_changelist"))
    assert page.status_code == 302
