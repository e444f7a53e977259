"""Property-based run of the whole API against its own OpenAPI schema (schemathesis 4).

Every operation gets a bounded number of generated requests, sent as the
staff user who owns a session with tagged images (so ids 1, 2, … often hit
real rows), under every check schemathesis has (`--checks all`): no 5xx,
answers that match the schema, schema-violating requests refused and
schema-valid ones accepted. What a JSON Schema cannot say (a tag name with
nothing left once normalized, a tag both pinned and blacklisted) the schema
states under `x-refused-with`: a 400 with one of those error codes, from an
operation whose schema states it, is accepted as valid data refused.
"""

import functools
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.services import token_create
from sessions_app import services
from tagger_project.api import api
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
    session = services.session_create(owner=staff, name="Fuzzed").value
    services.session_member_add(session, actor=staff, user=bob, role="editor")
    images = [make_image(color=(i, 9, 9), name=f"f{i}.png") for i in range(3)]
    services.session_images_add(session, actor=staff, images=images)
    services.tags_add(session, images[0].pk, actor=staff, names=["a", "b"])
    _, secret = token_create(staff, name="schemathesis")
    return secret


# Loading the schema needs no database: pytest-django has configured Django by now.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@functools.cache
def stated_codes(label: str) -> frozenset[str]:
    """The error codes an operation's schema states under `x-refused-with`, $refs followed."""
    document = api.get_openapi_schema()
    method, path = label.split(" ", 1)
    found: set[str] = set()
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref not in seen:
                seen.add(ref)
                walk(document["components"]["schemas"][ref.rsplit("/", 1)[-1]])
            found.update(node.get("x-refused-with", ()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    operation = document["paths"][path][method.lower()]
    walk({"parameters": operation.get("parameters"), "body": operation.get("requestBody")})
    return frozenset(found)


@schemathesis.check
def positive_data_accepted_unless_stated(ctx, response, case):
    """positive_data_acceptance, except for the refusals the operation's schema states."""
    if response.status_code == 400:
        code = response.json()["error"]["code"]
        if code in stated_codes(case.operation.label):
            return None
    return positive_data_acceptance(ctx, response, case)


load_all_checks()
CHECKS_ALL = [
    *(check for check in CHECKS.get_all() if check is not positive_data_acceptance),
    positive_data_accepted_unless_stated,
]


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
        checks=CHECKS_ALL,
    )
