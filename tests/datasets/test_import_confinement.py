"""import_dataset reads only its own files: no `..`, no absolute paths, no symlinks out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from datasets.importing_formats import open_dataset
from datasets.importing_formats.source import DatasetSource
from images.models import Image
from tests.support.images import png_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A picture and a caption beside the dataset, that no import may read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "x.png").write_bytes(png_bytes((9, 9, 9)))
    (folder / "x.txt").write_bytes(b"stolen, secret")
    return folder


def tagger_document(files: list[str], sha256: str | None = None) -> bytes:
    images = [{"file": name, "sha256": sha256, "tags": [{"name": "cat"}]} for name in files]
    return json.dumps({"format": "tagger-dataset", "version": 1, "images": images}).encode()


def run_import(path: Path, alice) -> dict:
    out = io.StringIO()
    call_command(
        "import_dataset",
        str(path),
        "--session",
        "Imported",
        "--owner",
        alice.username,
        "--json",
        stdout=out,
        stderr=io.StringIO(),
    )
    return json.loads(out.getvalue())


def test_tagger_json_entries_outside_the_dataset_are_refused(tmp_path, outside, alice):
    dataset = tmp_path / "a" / "b" / "dataset"
    dataset.mkdir(parents=True)
    (dataset / "inside.png").write_bytes(png_bytes((1, 1, 1)))
    escaping = [
        "../../../outside/x.png",
        str(outside / "x.png"),
        "sub/../../../../outside/x.png",
    ]
    (dataset / "tagger.json").write_bytes(tagger_document(["inside.png", *escaping]))
    result = run_import(dataset, alice)
    assert result["imported"] == 1
    refused = {item["path"]: item["reason"] for item in result["skipped"]}
    assert set(refused) == set(escaping)
    for reason in refused.values():
        assert "outside the dataset" in reason
    assert Image.objects.count() == 1
    assert Image.objects.get().original_name == "inside.png"


def test_caption_folder_does_not_follow_symlinks_out(tmp_path, outside, alice):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "own.png").write_bytes(png_bytes((2, 2, 2)))
    (dataset / "own.txt").write_bytes(b"own, tags")
    (dataset / "x.png").symlink_to(outside / "x.png")
    (dataset / "x.txt").symlink_to(outside / "x.txt")
    (dataset / "linked").symlink_to(outside, target_is_directory=True)
    opened = open_dataset(dataset, "kohya")
    assert [image.file for image in opened.dataset.images] == ["own.png"]
    result = run_import(dataset, alice)
    assert result["imported"] == 1
    assert list(Image.objects.values_list("original_name", flat=True)) == ["own.png"]


def test_a_caption_symlinked_out_is_not_read(tmp_path, outside):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "own.png").write_bytes(png_bytes((3, 3, 3)))
    (dataset / "own.txt").symlink_to(outside / "x.txt")
    source = DatasetSource(dataset)
    assert "own.txt" not in source.names()
    assert not source.exists("own.txt")
    with pytest.raises(OSError, match="outside the dataset"):
        source.read("own.txt", max_bytes=1024)
    opened = open_dataset(dataset, "kohya")
    assert [t.name for image in opened.dataset.images for t in image.tags] == []


def test_a_symlink_that_stays_inside_is_followed(tmp_path):
    dataset = tmp_path / "dataset"
    (dataset / "real").mkdir(parents=True)
    (dataset / "real" / "a.png").write_bytes(png_bytes((4, 4, 4)))
    (dataset / "alias.png").symlink_to(dataset / "real" / "a.png")
    source = DatasetSource(dataset)
    assert source.names() == ["alias.png", "real/a.png"]
    assert source.read("alias.png", max_bytes=10**6) == (dataset / "real" / "a.png").read_bytes()


def test_an_outside_entry_is_not_matched_by_sha256_either(tmp_path, outside, alice, session):
    from sessions_app import services

    known = services.session_import_bytes(
        session, actor=alice, data=png_bytes((5, 5, 5)), original_name="known.png"
    ).value
    sha256 = Image.objects.get(pk=known.image_id).sha256
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "tagger.json").write_bytes(tagger_document(["../outside/x.png"], sha256))
    result = run_import(dataset, alice)
    assert result["imported"] == 0
    assert "outside the dataset" in result["skipped"][0]["reason"]
