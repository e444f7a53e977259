"""Import services: one image per transaction into a session, its files stored first."""

from __future__ import annotations

import dataclasses
import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from datasets.importing_pipeline import candidate_files, import_files
from images import storage
from images.models import Image
from images.processing import process_image_bytes
from sessions_app.models import ImageStatus, SessionEvent, SessionImage, SessionImageTag
from sessions_app.services import session_create, session_import_bytes, tags_add, tags_remove
from sessions_app.services.importing import ImportItem, session_import_batch
from tagger_project.db import rows_insert
from tags.models import Tag, TagSource
from tags.services import alias_create, implication_create
from tests.support.images import png_bytes
from tests.support.samples import SAMPLES


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test stores files under its own folder, never var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def noise_jpeg(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A distinct JPEG per seed (noise never compresses to the same bytes)."""
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    PILImage.frombytes("RGB", size, pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def tags_of(image_id: int) -> list[tuple[str, str]]:
    rows = SessionImageTag.objects.filter(entry__image_id=image_id).order_by("position", "id")
    return list(rows.values_list("tag__name", "source"))


def write(folder: Path, name: str, data: bytes, caption: str | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if caption is not None:
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    return path


def nothing_stored() -> bool:
    return not Path(default_storage.location).exists() or not any(
        p.is_file() for p in Path(default_storage.location).rglob("*")
    )


# --- session_import_bytes (the upload door) ----------------------------------------------


def test_upload_stores_files_then_row_and_logs_events(session, alice):
    data = (SAMPLES / "generation-metadata" / "automatic1111_cropped.png").read_bytes()
    outcome = session_import_bytes(
        session, actor=alice, data=data, original_name="dir/duck.png"
    ).value
    assert (outcome.status, outcome.original_name, outcome.reason) == (
        "imported",
        "dir/duck.png",
        "",
    )
    image = Image.objects.get(pk=outcome.image_id)
    assert image.original_name == "duck.png"
    assert image.file.name == storage.original_name(image.sha256, ".png")
    assert image.file.name == f"originals/{image.sha256[:2]}/{image.sha256}.png"
    assert image.thumbnail.name == storage.thumbnail_name(image.sha256, ".jpg")
    assert default_storage.open(image.file.name).read() == data
    assert default_storage.exists(image.thumbnail.name)
    assert (image.width, image.height, image.format, image.byte_size) == (1, 1, "PNG", len(data))
    assert image.metadata["prompt"] == "photo of a duck"
    assert image.imported_by == alice
    assert tags_of(image.pk) == [("photo of a duck", TagSource.PROMPT)]
    # A new image arrives with its tags in one event: clients load both.
    event = session.events.order_by("seq").last()
    assert (event.kind, event.payload, event.actor) == (
        "images.added",
        {"image_ids": [image.pk]},
        alice,
    )
    assert Tag.objects.get(name="photo of a duck").image_count == 1


def test_upload_of_same_content_again_is_a_duplicate(session, alice):
    data = noise_jpeg(1)
    first = session_import_bytes(session, actor=alice, data=data, original_name="a.jpg").value
    events = session.events.count()
    again = session_import_bytes(session, actor=alice, data=data, original_name="b.jpg").value
    assert (first.status, again.status) == ("imported", "duplicate")
    assert again.image_id == first.image_id
    assert Image.objects.count() == 1
    assert SessionImage.objects.filter(session=session).count() == 1
    assert session.events.count() == events  # nothing changed, nothing logged


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"just, some, tags\n", "not an image"),
        (noise_jpeg(2)[:-400], "truncated or corrupt image data"),
        (
            png_claiming(100_000, 100_000),
            "decompression bomb: 10000000000 pixels exceeds the limit",
        ),
    ],
    ids=["empty", "text", "truncated-jpeg", "bomb"],
)
def test_bad_upload_is_skipped_with_reason_and_changes_nothing(session, alice, data, reason):
    events = session.events.count()
    outcome = session_import_bytes(session, actor=alice, data=data, original_name="bad.png").value
    assert outcome.status == "skipped"
    assert outcome.reason.startswith(reason)
    assert outcome.image_id is None
    assert not Image.objects.exists()
    assert session.events.count() == events
    assert nothing_stored()


def test_bomb_limit_comes_from_settings(session, alice, settings):
    settings.TAGGER_MAX_IMAGE_PIXELS = 96 * 64 - 1
    outcome = session_import_bytes(
        session, actor=alice, data=noise_jpeg(3), original_name="x.jpg"
    ).value
    assert (outcome.status, outcome.reason) == (
        "skipped",
        f"decompression bomb: {96 * 64} pixels exceeds the limit of {96 * 64 - 1}",
    )


def test_prompt_tags_are_not_added_to_an_image_that_has_tags(session, alice, bob):
    data = (SAMPLES / "generation-metadata" / "fooocus1_cropped.png").read_bytes()
    first = session_import_bytes(session, actor=alice, data=data, original_name="fish.png").value
    tags_remove(session, first.image_id, actor=bob, names=["a smiling goldfish"])
    tags_add(session, first.image_id, actor=bob, names=["goldfish"])
    again = session_import_bytes(
        session, actor=alice, data=data, original_name="fish again.png"
    ).value
    assert again.status == "duplicate"
    assert tags_of(first.image_id) == [("goldfish", TagSource.MANUAL)]


# --- storage ---------------------------------------------------------------------------


def test_store_content_is_idempotent_and_replaces_a_cut_short_file():
    name = storage.original_name("ab" * 32, ".jpg")
    assert name == f"originals/ab/{'ab' * 32}.jpg"
    assert storage.store_content(name, b"12345") == name
    assert storage.store_content(name, b"12345") == name
    default_storage.delete(name)
    default_storage.save(name, io.BytesIO(b"12"))  # what a kill mid-write leaves
    assert storage.store_content(name, b"12345") == name
    assert default_storage.open(name).read() == b"12345"
    assert sorted(p.name for p in Path(default_storage.path(name)).parent.iterdir()) == [
        f"{'ab' * 32}.jpg"
    ]


@pytest.mark.parametrize(
    ("sha", "ext"), [("AB" * 32, ".jpg"), ("ab" * 31, ".jpg"), ("ab" * 32, "/x")]
)
def test_storage_names_refuse_bad_parts(sha, ext):
    with pytest.raises(ValueError):
        storage.original_name(sha, ext)


# --- the batch pipeline ------------------------------------------------------------------


def run_import(session, actor, *roots: Path, workers: int = 2):
    return import_files(session, actor=actor, files=candidate_files(list(roots)), workers=workers)


def test_every_sample_imports_with_its_prompt(session, alice):
    report = run_import(session, alice, SAMPLES)
    assert (report.imported, report.duplicates) == (8, 0)
    assert report.skipped == [
        {"path": str(SAMPLES / "README.md"), "reason": "not an image"},
        {"path": str(SAMPLES / "bad-images" / "empty_file.png"), "reason": "empty file"},
    ]
    prompts = {
        "automatic1111_cropped.png": "photo of a duck",
        "automatic1111_cropped.jpg": "photo of a duck",
        "img2img_cropped.png": "photograph of victorian woman with wings, sky clouds, meadow grass",
        "novelai1_cropped.png": "masterpiece, best quality,  cat, space, icon",
        "fooocus1_cropped.png": "a smiling goldfish",
        "text_after_idat.png": "photo of a duck",
        "empty_image.png": None,
        "empty_image.jpg": None,
    }
    images = {image.original_name: image for image in Image.objects.all()}
    assert set(images) == set(prompts)
    for name, prompt in prompts.items():
        assert images[name].metadata.get("prompt") == prompt, name
        expected = [t.strip() for t in prompt.split(",")] if prompt else []
        assert tags_of(images[name].pk) == [(t, TagSource.PROMPT) for t in expected], name
    a1111 = images["automatic1111_cropped.jpg"].metadata
    assert (a1111["negative_prompt"], a1111["seed"], a1111["steps"]) == (
        "monochrome",
        235284042,
        15,
    )
    assert (
        images["novelai1_cropped.png"].metadata["negative_prompt"].startswith("lowres, bad anatomy")
    )


def test_caption_file_gives_ordered_caption_tags_instead_of_prompt(session, alice, tmp_path):
    prompt_png = (SAMPLES / "generation-metadata" / "automatic1111_cropped.png").read_bytes()
    write(tmp_path, "duck.png", prompt_png, caption="Zebra, apple, (mango:1.2)\nred_hair")
    report = run_import(session, alice, tmp_path)
    assert (report.imported, report.skipped) == (1, [])
    image = Image.objects.get()
    assert tags_of(image.pk) == [
        ("zebra", TagSource.CAPTION),
        ("apple", TagSource.CAPTION),
        ("mango", TagSource.CAPTION),
        ("red hair", TagSource.CAPTION),
    ]
    assert image.metadata["prompt"] == "photo of a duck"  # metadata kept, prompt not tagged


def test_invalid_caption_tokens_are_skipped_one_by_one(session, alice, tmp_path):
    write(tmp_path, "a.jpg", noise_jpeg(4), caption=f"good, bad\x07bell, {'x' * 201}, fine")
    report = run_import(session, alice, tmp_path)
    assert (report.imported, report.skipped) == (1, [])
    assert tags_of(Image.objects.get().pk) == [
        ("good", TagSource.CAPTION),
        ("fine", TagSource.CAPTION),
    ]
    path = str(tmp_path / "a.jpg")
    assert report.skipped_tags == [
        (path, "bad\x07bell", "control characters are not allowed"),
        (path, "x" * 201, "longer than 200 characters"),
    ]


def test_duplicate_content_is_imported_once_and_captions_merge(session, alice, tmp_path):
    data = noise_jpeg(5)
    write(tmp_path, "a/first.jpg", data, caption="cat, sitting")
    write(tmp_path, "b/second copy.jpg", data, caption="sitting, window, cat ears")
    write(tmp_path, "c/other.jpg", noise_jpeg(6), caption="dog")
    report = run_import(session, alice, tmp_path)
    assert (report.imported, report.duplicates, report.skipped) == (2, 1, [])
    assert Image.objects.count() == 2
    first = Image.objects.get(original_name="first.jpg")
    assert [name for name, _ in tags_of(first.pk)] == ["cat", "sitting", "window", "cat ears"]
    assert Tag.objects.get(name="sitting").image_count == 1
    positions = SessionImage.objects.filter(session=session).order_by("position")
    assert [e.image.original_name for e in positions] == ["first.jpg", "other.jpg"]


def test_bad_files_are_skipped_while_the_rest_goes_on(session, alice, tmp_path):
    write(tmp_path, "1.jpg", noise_jpeg(7))
    write(tmp_path, "2 truncated.jpg", noise_jpeg(8)[:-300])
    write(tmp_path, "3 notes.md", b"# not an image\n")
    write(tmp_path, "4.png", png_claiming(50_000, 50_000))
    write(tmp_path, "5 no extension", noise_jpeg(9))
    write(tmp_path, ".hidden.jpg", noise_jpeg(10))
    write(tmp_path, ".git/objects/x.jpg", noise_jpeg(11))
    report = run_import(session, alice, tmp_path, workers=1)
    assert (report.imported, report.duplicates) == (2, 0)
    assert report.skipped == [
        {"path": str(tmp_path / "2 truncated.jpg"), "reason": "truncated or corrupt image data"},
        {"path": str(tmp_path / "3 notes.md"), "reason": "not an image"},
        {
            "path": str(tmp_path / "4.png"),
            "reason": "decompression bomb: 2500000000 pixels exceeds the limit of 100000000",
        },
    ]
    assert sorted(Image.objects.values_list("original_name", flat=True)) == [
        "1.jpg",
        "5 no extension",
    ]


def test_every_row_has_its_files(session, alice, tmp_path):
    for seed in range(4):
        write(tmp_path, f"{seed}.jpg", noise_jpeg(100 + seed))
    run_import(session, alice, tmp_path)
    for image in Image.objects.all():
        assert default_storage.exists(image.file.name)
        assert default_storage.exists(image.thumbnail.name)
    # One event per committed group, naming every image of it once.
    added = SessionEvent.objects.filter(session=session, kind="images.added")
    image_ids = [image_id for event in added for image_id in event.payload["image_ids"]]
    assert sorted(image_ids) == sorted(Image.objects.values_list("pk", flat=True))


def test_new_image_tags_resolve_aliases_and_follow_implications(session, alice, tmp_path):
    cat, cat_ears, animal_ears = (
        Tag.objects.create(name=n) for n in ("cat", "cat ears", "animal ears")
    )
    alias_create(cat, name="kitty")
    implication_create(cat_ears, implied=animal_ears)
    write(tmp_path, "a.jpg", noise_jpeg(12), caption="Kitty, cat_ears, cat")
    run_import(session, alice, tmp_path)
    image = Image.objects.get()
    assert tags_of(image.pk) == [
        ("cat", TagSource.CAPTION),
        ("cat ears", TagSource.CAPTION),
        ("animal ears", TagSource.IMPLICATION),
    ]
    counts = dict(Tag.objects.values_list("name", "image_count"))
    assert counts == {"cat": 1, "cat ears": 1, "animal ears": 1}
    # Its initial state: the first edit makes it 1.
    assert SessionImage.objects.get(session=session, image=image).version == 0


def caption_item(data: bytes, name: str, caption: str) -> ImportItem:
    processed = process_image_bytes(data, max_pixels=10**8, max_bytes=10**8)
    tokens = [token.strip() for token in caption.split(",")]
    return ImportItem(dataclasses.replace(processed, caption_tokens=tokens), name)


def test_a_group_imports_new_runs_in_bulk_and_known_content_in_file_order(session, alice):
    other = session_create(owner=alice, name="Other").value
    library = session_import_bytes(
        other, actor=alice, data=noise_jpeg(20), original_name="k.jpg"
    ).value
    a, b = noise_jpeg(21), noise_jpeg(22)
    items = [
        caption_item(a, "a.jpg", "cat, dog"),
        caption_item(noise_jpeg(20), "k again.jpg", "cat"),  # in the library, not the session
        caption_item(b, "b.jpg", "dog, bad\x07bell"),
        caption_item(a, "a copy.jpg", "bird, cat"),
    ]
    outcomes = session_import_batch(session, actor=alice, items=items).value
    assert [(o.status, o.original_name) for o in outcomes] == [
        ("imported", "a.jpg"),
        ("imported", "k again.jpg"),
        ("imported", "b.jpg"),
        ("duplicate", "a copy.jpg"),
    ]
    assert [t.token for t in outcomes[2].skipped_tags] == ["bad\x07bell"]
    a_id, k_id, b_id = (o.image_id for o in outcomes[:3])
    assert (k_id, outcomes[3].image_id) == (library.image_id, a_id)
    entries = SessionImage.objects.filter(session=session).order_by("position")
    assert list(entries.values_list("image_id", "position")) == [(a_id, 1), (k_id, 2), (b_id, 3)]
    assert [name for name, _ in tags_of(a_id)] == ["cat", "dog", "bird"]
    assert tags_of(k_id) == [("cat", TagSource.CAPTION)]
    assert tags_of(b_id) == [("dog", TagSource.CAPTION)]
    assert dict(Tag.objects.values_list("name", "image_count")) == {"cat": 2, "dog": 2, "bird": 1}
    added = session.events.filter(kind="images.added").order_by("seq")
    assert [e.payload["image_ids"] for e in added] == [[a_id], [k_id], [b_id]]
    for image in Image.objects.all():  # stored by the batch: the items came without files
        assert default_storage.exists(image.file.name)
        assert default_storage.exists(image.thumbnail.name)


def test_new_images_rows_are_the_rows_the_orm_writes(session, alice):
    before = timezone.now()
    outcomes = session_import_batch(
        session,
        actor=alice,
        items=[
            caption_item(noise_jpeg(30), "a.jpg", "cat, dog"),
            caption_item(noise_jpeg(31), "b.jpg", "dog"),
        ],
    ).value
    after = timezone.now()
    a_id, b_id = (o.image_id for o in outcomes)
    tags = SessionImageTag.objects.order_by("entry__image_id", "position")
    assert list(
        tags.values_list(
            "entry__image_id", "tag__name", "position", "source", "confidence", "added_by"
        )
    ) == [
        (a_id, "cat", 0, TagSource.CAPTION, None, alice.pk),
        (a_id, "dog", 1, TagSource.CAPTION, None, alice.pk),
        (b_id, "dog", 0, TagSource.CAPTION, None, alice.pk),
    ]
    entries = SessionImage.objects.filter(session=session).order_by("position")
    assert list(entries.values_list("image_id", "position", "status")) == [
        (a_id, 1, ImageStatus.TODO),
        (b_id, 2, ImageStatus.TODO),
    ]
    for rows, column in ((tags, "created_at"), (entries, "added_at")):
        stamps = set(rows.values_list(column, flat=True))
        assert all(before <= stamp <= after for stamp in stamps)
        # Stored as the ORM stores them: its own lookups find every row by its value.
        assert rows.filter(**{f"{column}__in": stamps}).count() == rows.count()


def test_raw_rows_must_give_every_column_a_value(session):
    with pytest.raises(
        ValueError, match="no value for added_at, caption, caption_version, original_name, status"
    ):
        rows_insert(SessionImage, ("image", "position"), [(1, 1)], session=session.pk)


def test_upload_of_tags_then_sentence_keeps_both(session, alice):
    outcome = session_import_bytes(
        session,
        actor=alice,
        data=png_bytes((1, 2, 3)),
        original_name="a.png",
        caption=b"1girl, long hair. A girl in the rain.",
        caption_name="a.txt",
    ).value
    entry = SessionImage.objects.get(session=session, image_id=outcome.image_id)
    assert entry.caption == "A girl in the rain."
    names = entry.tags.order_by("position").values_list("tag__name", flat=True)
    assert list(names) == ["1girl", "long hair"]
