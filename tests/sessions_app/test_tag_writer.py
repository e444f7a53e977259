"""Only sessions_app/services/tag_writer.py moves tag counts and image versions.

The caption cache trusts an image's tags while its `version` stands; a
second writer that forgot the bump (or the count) would serve stale captions
without any test of its own noticing. So the rule is kept by reading the
source: every app module but the writer is scanned for such updates.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = ["accounts", "images", "tags", "sessions_app", "live", "datasets", "tagger_project"]
WRITER = REPO / "sessions_app" / "services" / "tag_writer.py"

UPDATES = re.compile(
    r"""
      \b(image_count|version)\s*=\s*F\(            # ORM: .update(version=F("version") + 1)
    | F\(\s*["'](image_count|version)["']\s*\)     # any F("image_count") arithmetic
    | \b(image_count|version)\s*=\s*\3\s*[-+]      # SQL: SET version = version + 1
    | \.(image_count|version)\s*[-+]=              # obj.version += 1; obj.save()
    """,
    re.VERBOSE | re.IGNORECASE,
)


def app_sources() -> list[Path]:
    paths = [path for app in APPS for path in (REPO / app).rglob("*.py")]
    return [path for path in paths if "migrations" not in path.parts and path != WRITER]


@pytest.mark.parametrize(
    "line",
    [
        'Tag.objects.filter(pk=1).update(image_count=F("image_count") + 1)',
        'Image.objects.filter(pk=1).update(version=F("version") + 1)',
        'cursor.execute(f"UPDATE {table} SET version = version + 1 WHERE id = %s")',
        "UPDATE tags_tag SET image_count = image_count - 2",
        "image.version += 1",
    ],
)
def test_the_scan_sees_each_way_of_writing_an_update(line):
    assert UPDATES.search(line)


def test_the_writer_is_what_the_scan_skips_and_it_holds_the_updates():
    assert WRITER in [path for app in APPS for path in (REPO / app).rglob("*.py")]
    assert UPDATES.search(WRITER.read_text())


def test_nothing_but_the_writer_moves_counts_or_versions():
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in app_sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UPDATES.search(line)
    ]
    assert offenders == []
