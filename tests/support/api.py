"""Clients for API tests: a bearer-token client per user, and a cookie client with CSRF."""

import json
from typing import Any

from django.test import Client

from accounts.services import token_create


class ApiClient:
    """Talks JSON to /api/ as one user (bearer token), or anonymously."""

    def __init__(self, user=None, **client_kwargs) -> None:
        headers = {}
        if user is not None:
            _, secret = token_create(user, name="tests")
            headers["Authorization"] = f"Bearer {secret}"
        self.client = Client(headers=headers, **client_kwargs)

    def call(self, method: str, path: str, body: Any = None, **kwargs):
        send = getattr(self.client, method.lower())
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return send(f"/api{path}", **kwargs)

    def get(self, path: str, **params):
        return self.client.get(f"/api{path}", params)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.call("post", path, body if body is not None else {}, **kwargs)

    def put(self, path: str, body: Any = None):
        return self.call("put", path, body)

    def patch(self, path: str, body: Any = None):
        return self.call("patch", path, body)

    def delete(self, path: str, **params):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return self.client.delete(f"/api{path}" + (f"?{query}" if query else ""))


def error_of(response) -> dict:
    """The `error` object of an error answer, after checking the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["details"], list)
    return body["error"]
