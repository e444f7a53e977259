"""The cast and the shared fixtures.

alice owns the session, bob edits, carol views, dave is an outsider and
staff curates the vocabulary. Data is made through our own services.
"""

import functools
import os
import socket
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection

from sessions_app import services as session_services
from tests.support.api import ApiClient
from tests.support.images import make_image
from tests.support.s3 import moto_installed, start_s3_server, stop_s3_server

# Fails the run when a test reads outside the checkout (see the module).
pytest_plugins = ["tests.support.confine"]

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(name: str, reachable: bool, why: str) -> None:
    """Skip a test whose outside service is missing, except in CI, where it must be there."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI but {why}")
    pytest.skip(f"{name} not available: {why}")


def tcp_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the test database be dropped even if a worker thread still holds a connection.

    Channels' and asgiref's executor threads keep their own connections;
    PostgreSQL refuses to drop a database in use, which would leave one
    test_tagger_<pid> database behind per run.
    """
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    require_service("Redis", tcp_reachable(url, 6379), f"nothing answers at {url}")
    return url


@functools.cache
def password_hash(raw: str) -> str:
    """Hash each test password once per process: the real hasher is slow on purpose."""
    return make_password(raw)


def password_of(username: str) -> str:
    return f"{username}-password"


def _user(username: str, **extra):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults=extra)
    user.password = password_hash(password_of(username))
    user.save()
    return user


@pytest.fixture
def alice(db):
    return _user("alice")


@pytest.fixture
def bob(db):
    return _user("bob")


@pytest.fixture
def carol(db):
    return _user("carol")


@pytest.fixture
def dave(db):
    return _user("dave")


@pytest.fixture
def staff(db):
    return _user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def as_(alice, bob, carol, dave, staff):
    """`as_(user)`: an API client signed in as that member of the cast, one per user."""
    clients = {}

    def client(user):
        if user.username not in clients:
            clients[user.username] = ApiClient(user)
        return clients[user.username]

    return client


@pytest.fixture
def session(alice, bob, carol):
    """A session alice owns, bob edits and carol views."""
    tagging_session = session_services.session_create(owner=alice, name="Cats").value
    session_services.session_member_add(tagging_session, actor=alice, user=bob, role="editor")
    session_services.session_member_add(tagging_session, actor=alice, user=carol, role="viewer")
    return tagging_session


@pytest.fixture
def session_images(session, alice):
    """Three images in the session, in order."""
    images = [make_image(color=(40 * i, 80, 160), name=f"cat{i}.png") for i in range(3)]
    session_services.session_images_add(session, actor=alice, images=images)
    return images


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3-compatible server for the run (skipped without moto[server], except in CI)."""
    require_service(
        "moto", moto_installed(), "moto[server] is not installed (requirements-dev.txt)"
    )
    server = start_s3_server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    stop_s3_server(server)


@pytest.fixture
def s3_bucket(s3_server, settings, tmp_path) -> str:
    """This test's media in a fresh bucket on the S3 server; MEDIA_ROOT stays an empty folder."""
    bucket = s3_server.new_bucket()
    settings.STORAGES = s3_server.storages(bucket, settings.STORAGES)
    settings.MEDIA_ROOT = tmp_path / "local-media"
    return bucket
