"""An open socket keeps checking its credentials and role.

Real `manage.py serve` workers; the revocations go through the HTTP API, as a
user would make them, so that the news has to cross processes.
"""

import asyncio
import json
import os
import random
import urllib.error
import urllib.request

import pytest
from channels.db import database_sync_to_async

from accounts.models import ApiToken
from sessions_app.models import SessionImageTag, SessionMember
from tests.support.sockets import Client, last_seq
from tests.support.workers import workers
from tests.support.ws import cookie_for, token_for

pytestmark = [pytest.mark.daphne, pytest.mark.django_db(transaction=True)]

db = database_sync_to_async

# Longer than any test: a close within it came from the pushed news, not the backstop.
NO_BACKSTOP = {"TAGGER_WS_RECHECK_S": "600"}


def http(port: int, method: str, path: str, *, token=None, body=None, headers=None) -> int:
    """Call a worker's API; the status code."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            "Origin": f"http://127.0.0.1:{port}",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def call(port: int, method: str, path: str, **kwargs) -> int:
    return await asyncio.to_thread(http, port, method, path, **kwargs)


def new_token(user) -> tuple[int, str]:
    secret = token_for(user)
    return ApiToken.objects.filter(user=user).latest("pk").pk, secret


def bob_has_tag(name: str) -> bool:
    return SessionImageTag.objects.filter(tag__name=name).exists()


def prefix() -> str:
    return f"t{os.getpid()}-{random.randrange(10**9)}"


async def test_revoked_token_closes_its_socket_on_another_worker(
    session, session_images, bob, redis_url
):
    token_id, secret = await db(new_token)(bob)
    base = await db(last_seq)(session.pk)
    env = {"CHANNEL_LAYER_PREFIX": prefix(), **NO_BACKSTOP}
    with workers(2, redis_url=redis_url, **env) as (one, two):
        client = await Client.open(two.url(session.pk), secret, base)
        assert await call(one.port, "DELETE", f"/auth/tokens/{token_id}", token=secret) == 204
        # The next edit is refused whatever the news' timing: edits check credentials.
        await client.add_tags("late", session_images[0].pk, "after-revoke")
        code, reason = await client.until_closed(timeout=10)
    assert (code, reason) == (4401, "API token revoked")
    assert "late" not in client.acks
    assert not await db(bob_has_tag)("after-revoke")


async def test_edit_right_after_revocation_is_refused_before_any_news(session, session_images, bob):
    """No message, no re-check yet: the edit itself finds the token gone."""
    token_id, secret = await db(new_token)(bob)
    with workers(1, **NO_BACKSTOP) as (worker,):
        client = await Client.open(worker.url(session.pk), secret, 0)
        # Deleted behind the services' back: nobody tells the worker.
        await db(ApiToken.objects.filter(pk=token_id).delete)()
        await client.add_tags("late", session_images[0].pk, "after-revoke")
        code, reason = await client.until_closed(timeout=10)
    assert (code, reason) == (4401, "API token revoked")
    assert not await db(bob_has_tag)("after-revoke")


async def test_logout_closes_the_sockets_of_that_cookie_session(session, bob):
    cookie = (await db(cookie_for)(bob)).decode()
    with workers(1, **NO_BACKSTOP) as (worker,):
        client = await Client.open(worker.url(session.pk), None, 0, cookie=cookie)
        csrf = "c" * 32
        headers = {"Cookie": f"{cookie}; csrftoken={csrf}", "X-CSRFToken": csrf}
        assert await call(worker.port, "POST", "/auth/logout", body={}, headers=headers) == 204
        code, reason = await client.until_closed(timeout=10)
    assert (code, reason) == (4401, "signed out")


async def test_removed_member_is_closed(session, alice, bob):
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    with workers(1, **NO_BACKSTOP) as (worker,):
        client = await Client.open(worker.url(session.pk), tokens[1], 0)
        path = f"/sessions/{session.pk}/members?username=bob"
        assert await call(worker.port, "DELETE", path, token=tokens[0]) == 204
        code, reason = await client.until_closed(timeout=10)
    assert (code, reason) == (4403, "no longer a member of this session")


async def test_editor_made_viewer_keeps_the_events_but_cannot_edit(
    session, session_images, alice, bob
):
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    base = await db(last_seq)(session.pk)
    with workers(1, **NO_BACKSTOP) as (worker,):
        owner = await Client.open(worker.url(session.pk), tokens[0], base)
        client = await Client.open(worker.url(session.pk), tokens[1], base)
        body = {"username": "bob", "role": "viewer"}
        path = f"/sessions/{session.pk}/members"
        assert await call(worker.port, "POST", path, token=tokens[0], body=body) == 201
        assert await client.until(lambda frame: frame["type"] == "role") == {
            "type": "role",
            "role": "viewer",
        }
        await client.add_tags("v1", session_images[0].pk, "by-viewer")
        error = await client.until(lambda frame: frame["type"] == "error")
        assert (error["id"], error["code"]) == ("v1", "forbidden")
        await owner.add_tags("o1", session_images[0].pk, "by-owner")
        await owner.until_acks(1)
        await client.until_seq(owner.acks["o1"])
        await owner.ws.close()
        await client.ws.close()
    assert not await db(bob_has_tag)("by-viewer")


async def test_periodic_recheck_closes_what_no_message_announced(session, bob):
    token = await db(token_for)(bob)
    with workers(1, TAGGER_WS_RECHECK_S="1") as (worker,):
        client = await Client.open(worker.url(session.pk), token, 0)
        # Behind the services' back: only the periodic re-check can notice.
        await db(SessionMember.objects.filter(session=session, user=bob).delete)()
        code, _ = await client.until_closed(timeout=10)
    assert code == 4403
