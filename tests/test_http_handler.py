"""The ASGI handler runs requests on a fixed pool of threads that keep their connections."""

import asyncio

import pytest
from channels.testing import HttpCommunicator
from django.db import connection

from tagger_project.http_handler import OneHopASGIHandler
from tests.support.ws import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def connection_state() -> tuple[str, int | None]:
    """The calling thread's name and its open SQLite connection's identity, if any."""
    import threading

    raw = connection.connection
    return threading.current_thread().name, id(raw) if raw is not None else None


async def get(handler, path: str, token: str) -> dict:
    communicator = HttpCommunicator(
        handler,
        "GET",
        path,
        headers=[(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
    )
    return await communicator.get_response()


async def test_requests_reuse_a_request_threads_connection(alice, settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL connections return to their pool after a request")
    # One request thread, so the probe below runs where the requests ran: with
    # several, ThreadPoolExecutor may start a fresh thread for the probe when
    # the last request's thread has not yet marked itself idle (seen under load).
    settings.HTTP_THREADS = 1
    token = await asyncio.to_thread(token_for, alice)
    handler = OneHopASGIHandler()
    loop = asyncio.get_running_loop()

    async def probe() -> tuple[str, int | None]:
        # The probe may land on a fresh pool thread (the request's one had not yet
        # marked itself idle, seen under load); ask again until it meets a connection.
        for _ in range(20):
            state = await loop.run_in_executor(handler.request_threads, connection_state)
            if state[1] is not None:
                return state
        return state

    seen = []
    for _ in range(3):
        response = await get(handler, "/api/auth/me", token)
        assert response["status"] == 200, response["body"][:200]
        seen.append(await probe())
    thread, raw = seen[0]
    assert thread.startswith("http") and raw is not None
    assert seen == [seen[0]] * 3  # one thread, one connection, kept open
    handler.request_threads.shutdown()
