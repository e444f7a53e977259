"""Password guessing stops after LOGIN_FAILURE_LIMIT wrong tries, even when the next is right."""

import pytest
from django.test import Client

from tests.accounts.test_api_auth import csrf_client, post_json
from tests.conftest import password_of
from tests.support.api import error_of


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = 5


def test_api_login_locks_out_after_the_limit_then_refuses_the_right_password(alice):
    client, token = csrf_client()
    wrong = {"username": "alice", "password": "guess"}
    answers = [post_json(client, "/api/auth/login", wrong, token).status_code for _ in range(7)]
    assert answers == [401, 401, 401, 401, 429, 429, 429]
    right = {"username": "alice", "password": password_of("alice")}
    locked = post_json(client, "/api/auth/login", right, token)
    assert locked.status_code == 429
    error = error_of(locked)
    assert error["code"] == "throttled"
    assert "too many failed sign-ins" in error["message"]
    assert client.get("/api/auth/me").status_code == 401


def test_lockout_is_per_account_and_address(alice, bob):
    client, token = csrf_client()
    for _ in range(5):
        post_json(client, "/api/auth/login", {"username": "alice", "password": "x"}, token)
    # bob from the same address, and alice from another, still sign in.
    bob_login = {"username": "bob", "password": password_of("bob")}
    assert post_json(client, "/api/auth/login", bob_login, token).status_code == 200
    other, other_token = csrf_client()
    alice_login = {"username": "alice", "password": password_of("alice")}
    headers = {"X-CSRFToken": other_token}
    far = other.post(
        "/api/auth/login",
        alice_login,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR="10.1.2.3",
    )
    assert far.status_code == 200


def test_success_before_the_limit_resets_the_count(alice):
    client, token = csrf_client()
    wrong = {"username": "alice", "password": "guess"}
    right = {"username": "alice", "password": password_of("alice")}
    for _ in range(4):
        assert post_json(client, "/api/auth/login", wrong, token).status_code == 401
    assert post_json(client, "/api/auth/login", right, token).status_code == 200
    client, token = csrf_client()
    for _ in range(4):
        assert post_json(client, "/api/auth/login", wrong, token).status_code == 401


def test_sign_in_page_locks_out_too(alice):
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "guess"})
    page = client.post("/accounts/login/", {"username": "alice", "password": password_of("alice")})
    assert page.status_code == 429
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in client.session
