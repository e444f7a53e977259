"""export_dataset: a thin command over the writers; refusals change nothing on disk."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sessions_app import services
from tests.support.images import jpeg_bytes, png_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def dataset(session, alice):
    for data, name, tags in [
        (png_bytes((1, 2, 3)), "a.png", ["smile", "red hair"]),
        (jpeg_bytes((4, 5, 6)), "a.jpg", ["cat"]),
    ]:
        outcome = services.session_import_bytes(
            session, actor=alice, data=data, original_name=name
        ).value
        services.tags_add(session, outcome.image_id, actor=alice, names=tags)
    services.session_update(session, actor=alice, trigger_word="ohwx")


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_dataset", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_folder_export_reports_renames(dataset, tmp_path):
    out, _ = run("Cats", "--out", str(tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a-2.jpg",
        "a-2.txt",
        "a.png",
        "a.txt",
        "dataset_config.toml",
    ]
    assert (tmp_path / "out" / "a.txt").read_text() == "ohwx, smile, red hair"
    assert "Exported 2 images of 'Cats'" in out
    assert "renamed 'a.jpg' -> a-2.jpg (same name as an earlier image)" in out


def test_zip_export_with_options(dataset, tmp_path, session):
    target = tmp_path / "set.zip"
    run(
        str(session.pk),
        "--out",
        str(target),
        "--format",
        "kohya",
        "--underscores",
        "--pin",
        "red hair",
    )
    with zipfile.ZipFile(target) as archive:
        assert archive.read("a.txt") == b"ohwx, red_hair, smile"
        assert sorted(archive.namelist()) == [
            "a-2.jpg",
            "a-2.txt",
            "a.png",
            "a.txt",
            "dataset_config.toml",
        ]


def test_json_report_and_other_formats(dataset, tmp_path):
    out, _ = run("Cats", "--out", str(tmp_path / "h"), "--format", "hydrus", "--json")
    report = json.loads(out)
    assert report["images"] == 2
    assert [item["exported"] for item in report["renamed"]] == ["a-2.jpg"]
    assert (tmp_path / "h" / "a.png.txt").read_text() == "smile\nred hair\n"
    run("Cats", "--out", str(tmp_path / "j"), "--format", "json", "--no-images")
    assert [p.name for p in (tmp_path / "j").iterdir()] == ["tagger.json"]


def test_non_empty_folder_needs_force(dataset, tmp_path):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "keep.me").write_text("mine")
    with pytest.raises(CommandError, match="not empty; use --force"):
        run("Cats", "--out", str(folder))
    assert [p.name for p in folder.iterdir()] == ["keep.me"]
    run("Cats", "--out", str(folder), "--force")
    assert (folder / "keep.me").read_text() == "mine"
    assert (folder / "a.txt").exists()


def test_existing_zip_needs_force(dataset, tmp_path):
    target = tmp_path / "old.zip"
    target.write_bytes(b"old")
    with pytest.raises(CommandError, match="exists; use --force"):
        run("Cats", "--out", str(target))
    assert target.read_bytes() == b"old"
    run("Cats", "--out", str(target), "--force")
    assert zipfile.is_zipfile(target)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Dogs", "--out", "{tmp}/x"], "no session called 'Dogs'"),
        (["Cats", "--out", "{tmp}/x", "--separator", " "], "separator"),
        (["Cats", "--out", "{tmp}/x", "--pin", ","], "invalid tag"),
        (["Cats", "--out", "{tmp}/missing/x.zip"], "no such folder"),
    ],
)
def test_bad_arguments_are_refused_and_write_nothing(dataset, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*[arg.format(tmp=tmp_path) for arg in args])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]


def test_unknown_format_is_refused(dataset, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        run("Cats", "--out", str(tmp_path / "x"), "--format", "csv")
