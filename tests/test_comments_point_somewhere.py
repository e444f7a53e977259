"""Comments and docs point only at what a reader of the checkout can open.

The issue tracker and the team's shared notes are not in the repository, so
a tracker number or a note kept beside the checkout sends a reader nowhere:
say what the reason is, or name the file, test or bench that holds it.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = re.compile(r"\bissues? #?\d+\b|\b(?:PERFORMANCE|DESIGN|STYLE)\.md\b", re.IGNORECASE)
SOURCES = ("*.py", "*.js", "*.html", "*.css", "*.md", "*.toml", "Makefile", ".ci/*")


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--", *SOURCES], cwd=ROOT, capture_output=True, text=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    vendored = ("tests/e2e/vendor/", "tests/fixtures/")
    return [ROOT / name for name in listed.stdout.split() if not name.startswith(vendored)]


def test_nothing_cites_an_issue_number_or_a_note_outside_the_checkout():
    files = _tracked()
    assert any(path.name == "README.md" for path in files)  # the listing found the sources
    cited = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        if path.is_file()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if NOWHERE.search(line)
    ]
    assert cited == []
