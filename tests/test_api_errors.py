"""Every error answers in one shape with the right status, and never leaks internals."""

import json

import pytest
from django.test import Client

from tagger_project.api import STATUS_OF_CODE
from tagger_project.errors import DomainError
from tests.support.api import ApiClient, error_of


def test_unknown_api_path_is_json_404(alice):
    response = ApiClient(alice).get("/no/such/thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_validation_error_is_422_in_the_shape(alice):
    response = ApiClient(alice).post("/sessions", {"name": 5})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == ["body", "payload", "name"]


def test_malformed_json_is_a_client_error(alice):
    client = ApiClient(alice).client
    response = client.post("/api/sessions", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.content.decode()


def test_oversized_json_body_is_413(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = ApiClient(alice).post("/sessions", {"name": "x", "description": "d" * 5000})
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_nul_characters_are_refused_not_crashing(alice):
    response = ApiClient(alice).post("/sessions", {"name": "a\x00b"})
    assert response.status_code == 422


def test_huge_ids_are_refused(alice):
    assert ApiClient(alice).get(f"/sessions/{2**70}").status_code == 422


@pytest.mark.parametrize("code", sorted({cls.code for cls in DomainError.__subclasses__()}))
def test_every_domain_code_has_a_status(code):
    assert code in STATUS_OF_CODE


def test_openapi_and_docs_are_served():
    schema = Client().get("/api/openapi.json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/sessions/{session_id}/images" in paths
    assert Client().get("/api/docs").status_code == 200
