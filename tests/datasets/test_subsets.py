"""kohya repeat folders in and out: `10_ohwx/` and `5_style/` become subsets, and go back out.

The TOML is read the way sd-scripts reads it (library/config_util.py): a key
in [general] is inherited by every dataset and subset unless one sets it,
a dataset's by its subsets; a DreamBooth subset needs its image_dir, and
reads only the images directly inside it (library/train_util.py glob_images).
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from datasets.exporting import ExportOptions, export_stream, export_to_path
from datasets.importing_formats import open_dataset
from datasets.services import dataset_import
from sessions_app.models import SessionImage, SessionSubset
from sessions_app.repeat_folders import parse_repeat_folder, repeat_folder_of
from sessions_app.services.subsets import subset_create, subset_moves_write
from tests.support.images import png_bytes

# sd-scripts' DreamBooth subset defaults (BaseSubsetParams, DreamBoothSubsetParams).
SUBSET_DEFAULTS = {"num_repeats": 1, "class_tokens": None, "caption_extension": ".caption"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def dreambooth_folder(root: Path) -> Path:
    """A training folder as people lay it out for sd-scripts: two x.png in two repeat folders."""
    for folder, color, caption in [
        ("10_ohwx", (10, 20, 30), "ohwx, smile"),
        ("5_style", (200, 20, 30), "style, outdoors"),
    ]:
        (root / folder).mkdir(parents=True)
        (root / folder / "x.png").write_bytes(png_bytes(color))
        (root / folder / "x.txt").write_text(caption)
    (root / "5_style" / "y.png").write_bytes(png_bytes((1, 200, 1)))
    (root / "5_style" / "y.txt").write_text("style, night")
    (root / "loose.png").write_bytes(png_bytes((9, 9, 9)))
    return root


def sd_scripts_subsets(config: dict) -> list[dict]:
    """Every subset's settings after sd-scripts' general → dataset → subset inheritance."""
    general = config.get("general", {})
    found = []
    for dataset in config["datasets"]:
        inherited = {k: v for k, v in dataset.items() if k != "subsets"}
        for subset in dataset["subsets"]:
            assert "image_dir" in subset  # Required("image_dir") in the DreamBooth schema
            found.append({**SUBSET_DEFAULTS, **general, **inherited, **subset})
    return found


def images_in(image_dir: Path) -> list[str]:
    """The images sd-scripts loads for a subset: only those directly in its image_dir."""
    return sorted(p.name for p in image_dir.iterdir() if p.suffix == ".png")


def subsets_of(session) -> dict[str, tuple[int, str, list[str]]]:
    """folder → (repeats, class tokens, the original names of its images)."""
    found = {}
    for subset in SessionSubset.objects.filter(session=session):
        names = sorted(
            SessionImage.objects.filter(subset=subset).values_list("original_name", flat=True)
        )
        found[subset.folder] = (subset.num_repeats, subset.class_tokens, names)
    return found


def test_folder_names_parse_as_sd_scripts_splits_them() -> None:
    assert parse_repeat_folder("10_ohwx") == parse_repeat_folder("10_ohwx")
    folder = parse_repeat_folder("10_ohwx_woman")
    assert folder is not None and (folder.num_repeats, folder.name) == (10, "ohwx_woman")
    assert parse_repeat_folder("0_ohwx") is None  # sd-scripts ignores repeats under 1
    assert parse_repeat_folder("ohwx") is None
    assert parse_repeat_folder("x_ohwx") is None
    assert parse_repeat_folder("10") is None
    assert repeat_folder_of("a/b.png") is None
    assert repeat_folder_of("10_ohwx/b.png") == parse_repeat_folder("10_ohwx")
    # Only the image's own folder: sd-scripts reads image_dir without recursion.
    assert repeat_folder_of("10_ohwx/deeper/b.png") is None


def test_import_images_makes_repeat_folders_subsets(session, alice, tmp_path) -> None:
    """Folders came in flat: one subset with num_repeats = 1."""
    root = dreambooth_folder(tmp_path / "train")
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    assert subsets_of(session) == {
        "10_ohwx": (10, "ohwx", ["x.png"]),
        "5_style": (5, "style", ["x.png", "y.png"]),
    }
    assert SessionImage.objects.get(session=session, original_name="loose.png").subset is None


def test_the_root_itself_is_no_subset(session, alice, tmp_path) -> None:
    """A folder the user points at called `2024_photos` is not 2024 repeats of `photos`."""
    root = tmp_path / "2024_photos"
    root.mkdir()
    (root / "a.png").write_bytes(png_bytes())
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    assert subsets_of(session) == {}


def test_import_dataset_kohya_makes_subsets_and_a_rerun_keeps_them(session, alice, tmp_path):
    root = dreambooth_folder(tmp_path / "train")
    for _ in range(2):
        opened = open_dataset(root, "kohya")
        try:
            dataset_import(session, actor=alice, opened=opened)
        finally:
            opened.source.close()
    assert subsets_of(session) == {
        "10_ohwx": (10, "ohwx", ["x.png"]),
        "5_style": (5, "style", ["x.png", "y.png"]),
    }


def same_image_in_two_folders(root: Path) -> Path:
    """One file copied into two repeat folders, as people do to weigh an image twice."""
    for folder, caption in [("10_ohwx", "ohwx, smile"), ("5_style", "watercolor")]:
        (root / folder).mkdir(parents=True)
        (root / folder / "x.png").write_bytes(png_bytes((10, 20, 30)))
        (root / folder / "x.txt").write_text(caption)
    return root


def test_the_same_image_in_two_folders_stays_in_the_first(session, alice, tmp_path) -> None:
    """It moved to the last folder: `10_ohwx` was left empty and gone from the export."""
    root = same_image_in_two_folders(tmp_path / "train")
    opened = open_dataset(root, "kohya")
    try:
        report = dataset_import(session, actor=alice, opened=opened).value
    finally:
        opened.source.close()
    assert subsets_of(session) == {"10_ohwx": (10, "ohwx", ["x.png"])}
    assert [p["path"] for p in report.as_json()["problems"]] == ["5_style/x.png"]
    assert "stays there" in report.as_json()["problems"][0]["reason"]
    export_to_path(session, "kohya", tmp_path / "out", ExportOptions(include_images=False))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "10_ohwx",
        "dataset_config.toml",
    ]


def test_import_images_says_which_folder_the_same_image_stays_in(session, tmp_path) -> None:
    root = same_image_in_two_folders(tmp_path / "train")
    err = io.StringIO()
    call_command(
        "import_images", str(root), "--session", session.name, "--workers", "1",
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert subsets_of(session) == {"10_ohwx": (10, "ohwx", ["x.png"])}
    assert "5_style/x.png: the same image is in 10_ohwx/; it stays there" in err.getvalue()


def test_an_image_someone_moved_is_not_moved_back_by_an_import(session, alice, tmp_path):
    root = dreambooth_folder(tmp_path / "train")
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    x = SessionImage.objects.get(session=session, subset__name="ohwx")
    other = subset_create(session, actor=alice, name="portraits", num_repeats=2).value
    subset_moves_write(session, actor=alice, moves=[[other.pk, [x.image_id]]])
    call_command(
        "import_images", str(root), "--session", session.name, "--workers", "1",
        stderr=io.StringIO(),
    )  # fmt: skip
    assert SessionImage.objects.get(pk=x.pk).subset_id == other.pk


def test_upload_from_a_repeat_folder_joins_its_subset(session, as_, bob) -> None:
    files = [SimpleUploadedFile("x.png", png_bytes((3, 4, 5)), content_type="image/png")]
    response = as_(bob).client.post(
        f"/api/sessions/{session.pk}/images?folder=3_pose", {"files": files}
    )
    assert response.status_code == 200, response.content
    assert subsets_of(session) == {"3_pose": (3, "pose", ["x.png"])}


def test_export_writes_the_same_folders_and_one_subset_each(session, alice, tmp_path) -> None:
    """Two x.png came back as x.png and x-2.png, both with one repeat."""
    root = dreambooth_folder(tmp_path / "train")
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    out = tmp_path / "out"
    report = export_to_path(session, "kohya", out)
    assert report.renamed == []
    assert (out / "10_ohwx/x.txt").read_text() == "ohwx, smile"
    assert (out / "5_style/x.txt").read_text() == "style, outdoors"
    assert images_in(out / "10_ohwx") == ["x.png"]
    assert images_in(out / "5_style") == ["x.png", "y.png"]
    assert images_in(out) == ["loose.png"]

    config = tomllib.loads((out / "dataset_config.toml").read_text())
    subsets = sd_scripts_subsets(config)
    assert [(Path(s["image_dir"]), s["num_repeats"], s["class_tokens"]) for s in subsets] == [
        (out.resolve(), 1, None),
        (out.resolve() / "10_ohwx", 10, "ohwx"),
        (out.resolve() / "5_style", 5, "style"),
    ]
    # Absolute, as every folder export's image_dir: the trainer's own folder does not matter.
    assert all(Path(s["image_dir"]).is_absolute() for s in subsets)
    # [general] reaches every subset: the captions are the .txt files written.
    assert {s["caption_extension"] for s in subsets} == {".txt"}
    loaded = [images_in(Path(s["image_dir"])) for s in subsets]
    assert loaded == [["loose.png"], ["x.png"], ["x.png", "y.png"]]


def test_a_session_whose_images_are_all_in_subsets_writes_no_top_subset(session, tmp_path):
    root = dreambooth_folder(tmp_path / "train")
    (root / "loose.png").unlink()
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    out = tmp_path / "out"
    export_to_path(session, "kohya", out)
    subsets = sd_scripts_subsets(tomllib.loads((out / "dataset_config.toml").read_text()))
    assert [Path(s["image_dir"]).name for s in subsets] == ["10_ohwx", "5_style"]


def test_a_zip_holds_the_folders_and_relative_image_dirs(session, tmp_path) -> None:
    root = dreambooth_folder(tmp_path / "train")
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    stream = export_stream(session, "kohya", ExportOptions(image_dir="/data/train"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(stream.chunks)))
    names = set(archive.namelist())
    assert {"10_ohwx/x.png", "10_ohwx/x.txt", "5_style/x.png", "5_style/y.txt"} <= names
    config = tomllib.loads(archive.read("dataset_config.toml").decode())
    dirs = [s["image_dir"] for s in sd_scripts_subsets(config)]
    assert dirs == ["/data/train", "/data/train/10_ohwx", "/data/train/5_style"]


def test_export_then_import_gives_the_same_subsets(session, alice, tmp_path) -> None:
    from sessions_app import services

    root = dreambooth_folder(tmp_path / "train")
    call_command("import_images", str(root), "--session", session.name, "--workers", "1")
    out = tmp_path / "out"
    export_to_path(session, "kohya", out)
    again = services.session_create(owner=alice, name="again").value
    call_command("import_images", str(out), "--session", again.name, "--workers", "1")
    assert subsets_of(again) == subsets_of(session)


def sd_scripts_reading(folder: str) -> tuple[int, str] | None:
    """How sd-scripts reads a folder name (generate_dreambooth_subsets_config_by_subdirs in
    its library/config_util.py): split at "_", the first part as int() the repeats (under
    1: ignored), the rest joined with "_" the class tokens."""
    head, *rest = folder.split("_")
    try:
        repeats = int(head)
    except ValueError:
        return None
    return (repeats, "_".join(rest)) if repeats >= 1 else None


@given(st.text(alphabet=st.sampled_from("0123456789_ab-. "), max_size=12))
def test_every_folder_tagger_takes_for_a_subset_sd_scripts_reads_the_same(folder) -> None:
    parsed = parse_repeat_folder(folder)
    if parsed is not None:
        assert sd_scripts_reading(folder) == (parsed.num_repeats, parsed.name)
        assert parse_repeat_folder(parsed.folder) == parsed  # export writes what import reads
