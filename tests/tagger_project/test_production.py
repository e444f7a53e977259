"""A production start: DEBUG=false, a real secret, collectstatic, `manage.py serve`.

The page's ES modules load by their hashed names, and so do the modules they
import; images come through the authorizing view; /healthz answers.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.request
from urllib.error import HTTPError

import pytest
from asgiref.sync import sync_to_async

from sessions_app import services
from tests.support.images import png_bytes
from tests.support.workers import ROOT, workers
from tests.support.ws import token_for

pytestmark = [pytest.mark.daphne, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css)$")


def get(url: str, token: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    return env


def deployment_env(production_env: dict[str, str], **extra: str) -> dict[str, str]:
    """This process's environment as a deployment has it: without the browser tests' flag."""
    env = {**os.environ, **production_env, **extra}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by tests/e2e for Playwright's loop
    return env


def test_deploy_checks_are_clean(production_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=deployment_env(production_env, ALLOWED_HOSTS="tagger.example"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


async def test_serve_with_debug_off_loads_pages_modules_and_images(
    production_env, settings, session, bob
):
    settings.MEDIA_ROOT = production_env["MEDIA_ROOT"]
    imported = await sync_to_async(services.session_import_bytes)(
        session, actor=bob, data=png_bytes((7, 7, 7)), original_name="prod.png"
    )
    outcome = imported.value
    token = await sync_to_async(token_for)(bob)
    with workers(1, **production_env) as (worker,):
        base = f"http://127.0.0.1:{worker.port}"
        status, headers, page = await sync_to_async(get)(f"{base}/accounts/login/")
        assert status == 200
        assert "Content-Security-Policy" in headers
        sources = re.findall(r'<script type="module" src="([^"]+)"', page.decode())
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.decode())
        assert sources and styles
        seen: set[str] = set()
        queue = [*sources, *styles]
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            assert HASHED.search(path), f"{path} is not a hashed name"
            status, headers, body = await sync_to_async(get)(base + path)
            assert status == 200, path
            assert "max-age=315360000" in headers.get("Cache-Control", ""), path
            for module in re.findall(r'from\s+"(\./[^"]+)"', body.decode()):
                queue.append(path.rsplit("/", 1)[0] + "/" + module[2:])
        assert len(seen) > len(sources) + len(styles), "no module imports were followed"

        status, headers, body = await sync_to_async(get)(
            f"{base}/api/images/{outcome.image_id}/thumbnail", token
        )
        assert status == 200 and body and headers["Cache-Control"] == "private, no-cache"
        status, _, _ = await sync_to_async(get)(f"{base}/api/images/{outcome.image_id}/thumbnail")
        assert status == 401

        status, _, body = await sync_to_async(get)(f"{base}/healthz")
        assert (status, body) == (200, b'{"database": "ok", "channel_layer": "ok"}')


def test_health_names_what_fails(client, settings):
    assert client.get("/healthz").json() == {"database": "ok", "channel_layer": "ok"}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "failing"}
    assert "no-store" in response["Cache-Control"]
