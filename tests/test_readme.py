"""The README's copy-paste examples work as they stand."""

import io
import json
import re
import subprocess
import time

import pytest
from django.core.management import call_command

from tests.support.workers import ROOT, workers

pytestmark = [pytest.mark.daphne, pytest.mark.django_db(transaction=True)]


def readme_block(marker: str) -> str:
    """The first ```sh block after `<!-- marker -->` in the README."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)\n```", readme, re.DOTALL)
    assert found, f"README.md has no ```sh block after <!-- {marker} -->"
    return found.group(1)


def test_token_example_logs_in_and_lists_sessions():
    call_command("ensure_demo_user", stdout=io.StringIO())
    script = readme_block("readme-token-example")
    with workers(1) as (worker,):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={"PATH": "/usr/bin:/bin", "BASE": f"http://127.0.0.1:{worker.port}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    sessions = json.loads(result.stdout)
    assert [s["name"] for s in sessions["items"]] == ["Demo session"]


def test_server_start_prints_no_alarming_notice(tmp_path):
    """daphne's "HTTP/2 support not enabled (install ... extras)" reads like a failure."""
    log = tmp_path / "serve.log"
    with workers(1, log=log, LOG_LEVEL="INFO") as (worker,):
        # The port accepts before daphne's listen callback logs its line: wait for it.
        deadline = time.monotonic() + 10
        while "Listening on TCP address" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.terminate()
    output = log.read_text()
    assert "Listening on TCP address" in output  # daphne's own start-up lines are kept
    assert "HTTP/2" not in output
