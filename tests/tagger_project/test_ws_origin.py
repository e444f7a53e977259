"""The WebSocket handshake is accepted only from the page's own origin: scheme, host and port."""

import pytest
from channels.db import database_sync_to_async

from tests.support.ws import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def opens(session_id: int, user, *, origin: bytes, host: bytes = b"testserver") -> bool:
    comm = await communicator(session_id, user, origin=origin, host=host)
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


async def test_same_scheme_host_and_port_is_accepted(session, bob):
    assert await opens(session.pk, bob, origin=b"http://127.0.0.1:8000", host=b"127.0.0.1:8000")
    # The default port, written or not, is the same origin.
    assert await opens(session.pk, bob, origin=b"http://testserver:80", host=b"testserver")


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        # A page served by another program on the same machine.
        (b"http://127.0.0.1:18399", b"127.0.0.1:8000"),
        (b"http://127.0.0.1", b"127.0.0.1:8000"),
        (b"http://testserver:8080", b"testserver"),
        # A plain-HTTP page talking to the socket that an HTTPS page should own.
        (b"https://testserver", b"testserver"),
        # A host outside ALLOWED_HOSTS, even when Origin and Host agree.
        (b"http://evil.example", b"evil.example"),
        (b"null", b"testserver"),
    ],
)
async def test_another_origin_is_refused(session, bob, origin, host):
    assert not await opens(session.pk, bob, origin=origin, host=host)


async def test_trusted_origin_is_accepted(session, bob, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://tagger.example"]
    assert await opens(session.pk, bob, origin=b"https://tagger.example", host=b"testserver")
    assert not await opens(session.pk, bob, origin=b"https://tagger.example:8443")


async def test_behind_a_tls_proxy_the_forwarded_scheme_counts(session, bob, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    comm = await communicator(
        session.pk,
        bob,
        origin=b"https://testserver",
        headers=[(b"x-forwarded-proto", b"https")],
    )
    connected, _ = await comm.connect()
    await comm.disconnect()
    assert connected
    assert not await opens(session.pk, bob, origin=b"https://testserver")


@pytest.mark.daphne
async def test_real_server_refuses_a_page_on_another_port(session, bob):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    from tests.support.workers import workers
    from tests.support.ws import token_for

    token = await database_sync_to_async(token_for)(bob)
    headers = {"Authorization": f"Bearer {token}"}
    with workers(1) as (worker,):
        url = worker.url(session.pk)
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, origin="http://127.0.0.1:18399", additional_headers=headers)
        assert refused.value.response.status_code == 403
        own = f"http://127.0.0.1:{worker.port}"
        async with connect(url, origin=own, additional_headers=headers) as ws:
            await ws.send('{"type": "ping"}')
