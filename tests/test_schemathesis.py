"""Property-based run of the whole API against its own OpenAPI schema (schemathesis 4).

Every operation gets a bounded number of generated requests, sent as the
staff user who owns a session with tagged images (so ids 1, 2, … often hit
real rows). No answer may be a 5xx, and every answer must match the schema.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.services import token_create
from sessions_app import services
from tests.support.images import make_image

EXAMPLES_PER_OPERATION = 10


@pytest.fixture(autouse=True)
def keep_test_connection(db):
    """Like Django's test client: a request must not close the test's connection and transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def bearer(staff, bob):
    session = services.session_create(owner=staff, name="Fuzzed")
    services.session_member_add(session, actor=staff, user=bob, role="editor")
    images = [make_image(color=(i, 9, 9), name=f"f{i}.png") for i in range(3)]
    services.session_images_add(session, actor=staff, images=images)
    services.tags_add(session, images[0].pk, actor=staff, names=["a", "b"])
    _, secret = token_create(staff, name="schemathesis")
    return secret


# Loading the schema needs no database: pytest-django has configured Django by now.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_within_its_schema(case, bearer):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {bearer}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
