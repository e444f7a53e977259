"""On PostgreSQL, a worker's API requests share a pool of connections instead of one each.

Django's ASGI handler runs each request in a thread of its own, so without
the pool every request opened (and closed) a PostgreSQL connection.
"""

import http.client

import pytest
from django.db import connection

from tests.support.workers import workers
from tests.support.ws import token_for

pytestmark = [pytest.mark.daphne, pytest.mark.django_db(transaction=True)]
REQUESTS = 30


def sessions_opened() -> int:
    """Connections ever made to this database (PostgreSQL counts them at connect)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_requests_through_a_worker_reuse_pooled_connections(alice):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite connections are files opened in-process")
    token = token_for(alice)
    before = sessions_opened()
    with workers(1) as (worker,):
        client = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=30)
        for _ in range(REQUESTS):
            client.request("GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
            response = client.getresponse()
            assert response.status == 200, response.read()[:200]
            response.read()
        client.close()
        assert worker.terminate() == 0  # its connections end, and are counted, now
    opened = sessions_opened() - before
    assert 1 <= opened < REQUESTS / 3
