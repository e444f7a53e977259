"""The suite refuses to pass when a test reads files outside the checkout."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.confine import CHECKOUT

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.confine"]
PYTEST += ["-p", "no:django", "-p", "no:cacheprovider"]
PROBE = """
import os
from pathlib import Path

def test_reads(tmp_path):
    (tmp_path / "inside.txt").write_text("temp files are fine")
    assert (tmp_path / "inside.txt").read_text()
    target = os.environ.get("PROBE_TARGET")
    if target:
        Path(target).read_bytes()
"""


def run_probe(tmp_path, *, target: str | None = None) -> subprocess.CompletedProcess:
    """Run a one-test suite under the plugin, its temp folder inside tmp_path/tmp."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    (temp / "test_probe.py").write_text(textwrap.dedent(PROBE))
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(CHECKOUT)}
    env.pop("TAGGER_TEST_CONFINE", None)
    if target:
        env["PROBE_TARGET"] = target
    return subprocess.run(
        [*PYTEST, "--rootdir", str(temp), "-c", os.devnull, str(temp)],
        cwd=temp,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reading_inside_passes(tmp_path):
    readme = CHECKOUT / "README.md"
    result = run_probe(tmp_path, target=str(readme))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outside the checkout" not in result.stdout


@pytest.mark.parametrize("relative", [False, True])
def test_reading_outside_fails_the_run(tmp_path, relative):
    outside = tmp_path / "beside" / "sample.png"
    outside.parent.mkdir()
    outside.write_bytes(b"not here in a clone")
    target = os.path.relpath(outside, tmp_path / "tmp") if relative else str(outside)
    result = run_probe(tmp_path, target=target)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the test itself passed: the plugin failed the run
    assert f"open: {outside}" in result.stdout
