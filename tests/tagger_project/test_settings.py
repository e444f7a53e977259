"""Settings come from the environment; unsafe production settings are refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tagger_project import settings as tagger_settings

REPO = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secret_key_is_refused():
    result = manage("check", DEBUG="false", ALLOWED_HOSTS="tagger.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_with_secret_key_passes_the_check():
    result = manage("check", DEBUG="false", SECRET_KEY="x" * 60, ALLOWED_HOSTS="tagger.example")
    assert result.returncode == 0, result.stderr


def test_debug_must_be_true_or_false():
    result = manage("check", DEBUG="yes")
    assert result.returncode != 0
    assert "DEBUG must be 'true' or 'false'" in result.stderr


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, ["a"]), ("", ["a"]), ("x, y,,z ", ["x", "y", "z"])]
)
def test_env_list(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("TAGGER_TEST_LIST", raising=False)
    else:
        monkeypatch.setenv("TAGGER_TEST_LIST", raw)
    assert tagger_settings.env_list("TAGGER_TEST_LIST", ["a"]) == expected
