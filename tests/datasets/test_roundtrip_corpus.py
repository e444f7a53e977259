"""The round-trip corpus (tests/datasets/corpus/README.md): import, export, compare byte for byte.

Each folder goes in through `import_dataset` and out through `export_dataset`
in the same format, as a user would run them, into a fresh session; every
file that came in must go out with the same bytes. An edit changes only the
file of the image edited, and only where it was edited.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from datasets.exporting import ExportOptions, export_to_path
from images.models import Image
from sessions_app import services
from sessions_app.models import SessionImage, TaggingSession
from sessions_app.services.curation import tag_merge
from tags.models import Tag, TagCategory
from tags.services import tag_set_category, tags_get_or_create

CORPUS = Path(__file__).parent / "corpus"
CASES = {
    "kohya-booru-dataset-tag-manager": "kohya",
    "kohya-taggui-trailing-comma": "kohya",
    "kohya-semicolon": "kohya",
    "kohya-comma-no-space": "kohya",
    "kohya-caption-files": "kohya",
    "kohya-tags-then-sentence": "kohya",
    "kohya-txt-and-caption": "kohya",
    "hydrus-namespaces": "hydrus",
    "kohya-json-sd-scripts": "kohya-json",
}
# Files an export adds that the dataset did not have.
ADDED = {"kohya": {"dataset_config.toml"}, "hydrus": set(), "kohya-json": set()}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def round_trip(case: str, fmt: str, session: TaggingSession, out: Path) -> dict[str, bytes]:
    call_command(
        "import_dataset",
        str(CORPUS / case),
        "--format",
        fmt,
        "--session",
        session.name,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    export(session, fmt, out)
    return files_of(out)


def export(session: TaggingSession, fmt: str, out: Path) -> None:
    call_command(
        "export_dataset",
        str(session.pk),
        "--out",
        str(out),
        "--format",
        fmt,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_unedited_dataset_exports_byte_for_byte(case, session, tmp_path) -> None:
    fmt = CASES[case]
    # A vocabulary that already knows `cat` as a general tag: hydrus's
    # `species:cat` must still go out as `species:cat`.
    tags_get_or_create(["cat"])
    exported = round_trip(case, fmt, session, tmp_path / "out")
    original = files_of(CORPUS / case)
    assert set(exported) - ADDED[fmt] == set(original)
    for name, data in original.items():
        assert exported[name] == data, name


def test_edit_changes_only_the_edited_image_and_only_the_edit(session, alice, tmp_path) -> None:
    case = "kohya-booru-dataset-tag-manager"
    before = round_trip(case, "kohya", session, tmp_path / "before")
    image = SessionImage.objects.get(session=session, original_name="001.png")
    services.tags_remove(session, image.image_id, actor=alice, names=["solo"])
    services.tags_add(session, image.image_id, actor=alice, names=["red ribbon (accessory)"])
    export(session, "kohya", tmp_path / "after")
    after = files_of(tmp_path / "after")
    # (The dataset config names the folder it was written to.)
    changed = {name for name in before if before[name] != after[name]} - ADDED["kohya"]
    assert changed == {"001.txt"}
    # The tags that stayed keep the dataset's spelling; the added one is in the session's style.
    assert after["001.txt"] == (
        b"1girl, long_hair, pokemon \\(creature\\), Smile, looking_at_viewer,"
        b" red_ribbon_\\(accessory\\)"
    )


def test_import_sets_the_session_style(session, tmp_path) -> None:
    round_trip("kohya-semicolon", "kohya", session, tmp_path / "out")
    session.refresh_from_db()
    assert session.separator == "; "
    entry = SessionImage.objects.get(session=session, original_name="b.png")
    names = list(entry.tags.order_by("position").values_list("tag__name", flat=True))
    assert names == ["ohwx", "1boy", "hat"]
    config = (tmp_path / "out" / "dataset_config.toml").read_text()
    assert 'caption_separator = ";"' in config


def test_caption_files_give_written_captions_with_case_kept(session, tmp_path) -> None:
    round_trip("kohya-caption-files", "kohya", session, tmp_path / "out")
    captions = dict(
        SessionImage.objects.filter(session=session).values_list("original_name", "caption")
    )
    assert captions == {
        "a.png": "A Photo of Tokyo at night, neon signs reflected in the rain.",
        "b.png": "Portrait of Ada Lovelace",
    }
    assert not SessionImage.objects.filter(session=session, tags__isnull=False).exists()
    config = (tmp_path / "out" / "dataset_config.toml").read_text()
    assert 'caption_extension = ".caption"' in config


def test_tags_then_sentence_keeps_both(session, tmp_path) -> None:
    round_trip("kohya-tags-then-sentence", "kohya", session, tmp_path / "out")
    entry = SessionImage.objects.get(session=session, original_name="b.png")
    assert entry.caption == "A Cat sleeping on a windowsill in the sun."
    names = list(entry.tags.order_by("position").values_list("tag__name", flat=True))
    assert names == ["cat", "no humans"]


def test_hydrus_import_keeps_global_categories(session, tmp_path) -> None:
    tag_set_category(tags_get_or_create(["cat"])["cat"], category=TagCategory.GENERAL)
    round_trip("hydrus-namespaces", "hydrus", session, tmp_path / "out")
    assert Tag.objects.get(name="cat").category == TagCategory.GENERAL
    assert Tag.objects.filter(name="rating:safe").exists()


def test_another_session_of_the_same_bytes_keeps_its_own_spelling(alice, session, tmp_path):
    other = services.session_create(owner=alice, name="Other").value
    round_trip("kohya-taggui-trailing-comma", "kohya", session, tmp_path / "one")
    copy = shutil.copytree(CORPUS / "kohya-taggui-trailing-comma", tmp_path / "copy")
    (copy / "a.txt").write_bytes(b"1girl,long_hair,smile,outdoors")
    call_command(
        "import_dataset",
        str(copy),
        "--format",
        "kohya",
        "--session",
        other.name,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    export(other, "kohya", tmp_path / "two")
    assert (tmp_path / "two" / "a.txt").read_bytes() == b"1girl,long_hair,smile,outdoors"
    assert (tmp_path / "one" / "a.txt").read_bytes() == b"1girl, long hair, smile, outdoors, \n"


def test_a_spelling_that_no_longer_names_its_tag_is_dropped(session, alice, tmp_path) -> None:
    round_trip("kohya-booru-dataset-tag-manager", "kohya", session, tmp_path / "before")
    smile, grin = Tag.objects.get(name="smile"), tags_get_or_create(["grin"])["grin"]
    tag_merge(smile, actor=alice, into=grin)
    export(session, "kohya", tmp_path / "after")
    # `Smile` was how the file spelled a tag that is now `grin`: the row is spelled the
    # session's way; the other tags keep the file's spelling.
    assert (tmp_path / "after" / "001.txt").read_bytes() == (
        b"1girl, solo, long_hair, pokemon \\(creature\\), grin, looking_at_viewer"
    )


def test_export_can_spell_every_tag_the_sessions_way(session, tmp_path) -> None:
    round_trip("kohya-booru-dataset-tag-manager", "kohya", session, tmp_path / "before")
    session.refresh_from_db()
    export_to_path(session, "kohya", tmp_path / "plain", ExportOptions(keep_spellings=False))
    assert (tmp_path / "plain" / "001.txt").read_bytes() == (
        b"1girl, solo, long_hair, pokemon_\\(creature\\), smile, looking_at_viewer"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_restored_backup_exports_the_dataset_byte_for_byte(case, session, tmp_path) -> None:
    """Import, back up to tagger.json, restore into an empty database, export: the same files."""
    fmt = CASES[case]
    tags_get_or_create(["cat"])
    round_trip(case, fmt, session, tmp_path / "first")
    export(session, "json", tmp_path / "backup")
    owner = session.owner.username
    TaggingSession.objects.all().delete()
    Image.objects.all().delete()
    Tag.objects.all().delete()

    call_command(
        "import_dataset",
        str(tmp_path / "backup"),
        "--format",
        "json",
        "--session",
        "Restored",
        "--owner",
        owner,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    restored = TaggingSession.objects.get(name="Restored")
    export(restored, fmt, tmp_path / "second")
    exported = files_of(tmp_path / "second")
    for name, data in files_of(CORPUS / case).items():
        assert exported[name] == data, name
