"""The server keeps to its OpenAPI schema: what schemathesis `--checks all` found.

A request body is the JSON object its schema describes: ninja's Schema read
fields as attributes off any value, so an array or a string validated as an
object of defaults, and pydantic's lax mode took `0` for `false`. Other JSON
is refused and changes nothing.
"""

import pytest

from accounts.models import ApiToken
from sessions_app import services as session_services
from sessions_app.models import TaggingSession
from tests.support.api import ApiClient, error_of
from tests.support.images import make_image

NOT_OBJECTS = [[None, None], ["remove"], "AAA", 7, True]


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_a_token_needs_an_object(alice, body):
    client = ApiClient(alice)
    before = ApiToken.objects.count()
    response = client.post("/auth/tokens", body)
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["message"] == "body.payload: must be a JSON object"
    assert ApiToken.objects.count() == before


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_a_session_patch_needs_an_object(session, as_, alice, body):
    before = TaggingSession.objects.get(pk=session.pk).last_seq
    response = as_(alice).patch(f"/sessions/{session.pk}", body)
    assert response.status_code == 422, response.content
    assert TaggingSession.objects.get(pk=session.pk).last_seq == before


def test_a_nested_object_must_be_an_object(session, as_, alice, dave):
    response = as_(alice).post(f"/sessions/{session.pk}/batch", {"selection": ["q"], "add": ["x"]})
    assert response.status_code == 422, response.content
    assert error_of(response)["message"] == "body.payload.selection: must be a JSON object"


@pytest.mark.parametrize(
    ("field", "value"),
    [("escape_parentheses", 0), ("use_underscores", "true"), ("use_underscores", 1)],
)
def test_a_boolean_is_true_or_false_not_a_number_or_a_string(alice, field, value):
    response = ApiClient(alice).post("/sessions", {"name": "Strict", field: value})
    assert response.status_code == 422, response.content
    assert error_of(response)["details"][0]["loc"] == ["body", "payload", field]
    assert not TaggingSession.objects.filter(name="Strict").exists()


def test_an_image_outside_the_session_is_not_found(session, session_images, as_, alice):
    other = session_services.session_create(owner=alice, name="Other").value
    outsider = make_image(color=(1, 1, 1), name="elsewhere.png")
    session_services.session_images_add(other, actor=alice, images=[outsider])
    response = as_(alice).post(
        f"/sessions/{session.pk}/images/{outsider.pk}/status", {"status": "reviewed"}
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_an_integral_number_is_an_integer_as_json_schema_says(session, session_images, as_, bob):
    # Strict validation must not refuse what a JSON Schema `integer` allows: 2.0 is 2.
    image_id = float(session_images[0].pk)
    body = {"selection": {"image_ids": [image_id]}, "add": ["calico"]}
    response = as_(bob).post(f"/sessions/{session.pk}/batch", body)
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 1


def test_exactly_one_of_two_fields_is_stated_in_the_schema(alice):
    document = ApiClient(alice).get("/openapi.json").json()
    selection = document["components"]["schemas"]["Selection"]
    assert [branch["required"] for branch in selection["oneOf"]] == [["image_ids"], ["q"]]


def test_a_batch_counts_only_the_selected_images_the_session_holds(
    session, session_images, as_, alice, bob
):
    other = session_services.session_create(owner=alice, name="Elsewhere").value
    outsider = make_image(color=(2, 2, 2), name="outsider.png")
    session_services.session_images_add(other, actor=alice, images=[outsider])
    ids = [session_images[0].pk, outsider.pk, 2**40]
    response = as_(bob).post(
        f"/sessions/{session.pk}/batch", {"selection": {"image_ids": ids}, "add": ["calico"]}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["selected"], response.json()["changed"]) == (1, 1)
