import json

from django.test import Client

from accounts.models import ApiToken
from accounts.services import hash_token, token_create
from tests.conftest import password_of
from tests.support.api import ApiClient, error_of


def csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    return client, token


def post_json(client: Client, path: str, body: dict, csrf: str | None = None):
    headers = {"X-CSRFToken": csrf} if csrf else {}
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def test_login_with_csrf_then_me_then_logout(alice):
    client, token = csrf_client()
    credentials = {"username": "alice", "password": password_of("alice")}
    response = post_json(client, "/api/auth/login", credentials, token)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert client.get("/api/auth/me").json() == {
        "id": alice.pk,
        "username": "alice",
        "is_staff": False,
    }
    # Login rotates the CSRF token: unsafe calls need the new one.
    assert post_json(client, "/api/auth/logout", {}, token).status_code == 403
    fresh = client.cookies["csrftoken"].value
    assert post_json(client, "/api/auth/logout", {}, fresh).status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_login_needs_csrf_and_right_password(alice):
    client, token = csrf_client()
    credentials = {"username": "alice", "password": password_of("alice")}
    response = post_json(client, "/api/auth/login", credentials)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    wrong = post_json(client, "/api/auth/login", {**credentials, "password": "nope"}, token)
    assert wrong.status_code == 401
    assert error_of(wrong)["code"] == "unauthenticated"
    assert post_json(client, "/api/auth/login", {"username": "alice"}, token).status_code == 422
    assert client.get("/api/auth/me").status_code == 401


def test_cookie_auth_enforces_csrf_on_unsafe_methods(alice):
    client, token = csrf_client()
    client.force_login(alice)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    assert client.get("/api/sessions").status_code == 200
    refused = post_json(client, "/api/sessions", {"name": "Forged"})
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert post_json(client, "/api/sessions", {"name": "Real"}, token).status_code == 201


def test_tokens_skip_csrf_and_are_stored_hashed(alice):
    client, token = csrf_client()
    client.force_login(alice)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    created = post_json(client, "/api/auth/tokens", {"name": "script"}, token)
    assert created.status_code == 201
    body = created.json()
    secret = body["token"]
    row = ApiToken.objects.get(pk=body["id"])
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    script = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})
    assert post_json(script, "/api/sessions", {"name": "Scripted"}).status_code == 201
    assert script.get("/api/auth/me").json()["username"] == "alice"
    assert script.delete(f"/api/auth/tokens/{body['id']}").status_code == 204
    revoked = script.get("/api/auth/me")
    assert revoked.status_code == 401
    assert error_of(revoked)["code"] == "unauthenticated"


def test_cannot_delete_someone_elses_token(alice, bob):
    token, _ = token_create(alice)
    response = ApiClient(bob).delete(f"/auth/tokens/{token.pk}")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_bad_bearer_token_is_401_even_with_a_cookie(alice):
    client = Client(headers={"Authorization": "Bearer tg_forged"})
    client.force_login(alice)
    assert client.get("/api/auth/me").status_code == 401
