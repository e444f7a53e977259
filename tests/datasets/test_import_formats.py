"""Dataset readers and import_dataset, against files shaped the way the other tools write them."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from datasets.exporting import ExportOptions, export_to_path
from datasets.importing_formats import DatasetTag, FormatError, open_dataset
from datasets.importing_formats.captions import drop_trigger_word
from datasets.importing_formats.hydrus import hydrus_tag
from datasets.services import tags_restore
from images.models import Image
from images.sidecars import parse_caption
from sessions_app import services
from sessions_app.models import SessionImage, SessionImageTag, TaggingSession
from tags.models import Tag, TagAlias, TagImplication
from tags.services import alias_create, implication_create, tag_set_category, tags_get_or_create
from tests.support.images import jpeg_bytes, png_bytes

INFOTEXT = (
    "masterpiece, 1girl, (red hair:1.2)\n"
    "Negative prompt: lowres, bad hands\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model: anything-v5"
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test stores files under its own folder, never var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def tags_of(image_id: int) -> list[tuple[str, str, str]]:
    rows = SessionImageTag.objects.filter(entry__image_id=image_id).order_by("position", "id")
    return list(rows.values_list("tag__name", "tag__category", "source"))


def session_tags(session: TaggingSession, *, captions: bool = False) -> dict[str, list[str]]:
    """original name → tag names in caption order, for the session's images in order.

    `captions`: as a caption writes them, without an auto-tagger's suggestions.
    """
    entries = SessionImage.objects.filter(session=session).order_by("position", "id")
    return {
        entry.image.original_name: [
            name
            for name, _, source in tags_of(entry.image_id)
            if not (captions and source == "suggestion")
        ]
        for entry in entries.select_related("image")
    }


def run_import(path: Path, *args: str) -> dict:
    out = io.StringIO()
    call_command("import_dataset", str(path), *args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


# --- caption sidecars (images.sidecars, used by import_images) -----------------------------


@pytest.mark.parametrize(
    ("data", "tags", "alternates"),
    [
        (
            b"1girl, solo\n1girl, smiling, outdoors\n",
            ["1girl", "solo"],
            ["1girl, smiling, outdoors"],
        ),
        (b"1girl\nsolo\ncat ears\n", ["1girl", "solo", "cat ears"], []),  # one tag per line
        (b"1girl, solo,\ncat ears, hat\n", ["1girl", "solo", "cat ears", "hat"], []),  # wrapped
        (b"1girl, solo\nportrait\n", ["1girl", "solo", "portrait"], []),
    ],
    ids=["alternate-lines", "newline-separated", "wrapped-list", "mixed"],
)
def test_caption_lines_become_tags_or_alternate_captions(data, tags, alternates) -> None:
    caption = parse_caption(data, filename="a.txt")
    assert (caption.kind, caption.tags, caption.alternates) == ("tags", tags, alternates)


def test_infotext_txt_is_generation_metadata_not_tags() -> None:
    caption = parse_caption(INFOTEXT.encode(), filename="a.txt")
    assert caption.kind == "infotext"
    assert caption.tags == []
    assert caption.metadata["prompt"] == "masterpiece, 1girl, (red hair:1.2)"
    assert caption.metadata["negative_prompt"] == "lowres, bad hands"
    assert caption.metadata["seed"] == 1234


def test_import_images_keeps_alternate_captions_and_reads_infotext(tmp_path, session) -> None:
    folder = write(
        tmp_path / "in",
        {
            "a.png": png_bytes((1, 2, 3)),
            "a.txt": b"1girl, solo\n1girl, smiling, outdoors\n",
            "b.png": png_bytes((4, 5, 6)),
            "b.txt": INFOTEXT.encode(),
        },
    )
    call_command("import_images", str(folder), "--session", session.name, "--workers", "1",
                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    a, b = (Image.objects.get(original_name=name) for name in ("a.png", "b.png"))
    assert a.metadata["alternate_captions"] == ["1girl, smiling, outdoors"]
    assert [name for name, _, _ in tags_of(a.pk)] == ["1girl", "solo"]
    assert b.metadata["prompt"] == "masterpiece, 1girl, (red hair:1.2)"
    assert tags_of(b.pk) == [
        ("masterpiece", "general", "prompt"),
        ("1girl", "general", "prompt"),
        ("red hair", "general", "prompt"),
    ]


# --- readers (no database) -----------------------------------------------------------------


def test_kohya_json_keys_are_matched_by_stem_or_path(tmp_path) -> None:
    metadata = {
        "a": {"tags": "1girl, hat \\(object\\), red_hair", "caption": "a girl in a hat"},
        "sub/b": {"caption": "cat, solo"},
        "c": {"tags": ""},
        "ghost": {"tags": "x"},
    }
    folder = write(
        tmp_path / "ds",
        {
            "a.png": b"",
            "sub/b.jpg": b"",
            "c.webp": b"",
            "metadata.json": json.dumps(metadata).encode(),
        },
    )
    opened = open_dataset(folder)
    assert opened.format == "kohya-json"
    images = opened.dataset.images
    assert [(i.file, [t.name for t in i.tags]) for i in images] == [
        ("a.png", ["1girl", "hat \\(object\\)", "red_hair"]),
        ("sub/b.jpg", ["cat", "solo"]),
        ("c.webp", []),
    ]
    # Beside the tags, kohya's natural-language caption is the written caption, kept exactly.
    assert (images[0].caption, images[0].metadata) == ("a girl in a hat", {})
    assert [(p.where, p.reason) for p in opened.dataset.problems] == [
        ("metadata.json: c", "empty caption: the image is imported without tags"),
        ("metadata.json: ghost", "no image file for it in the dataset"),
    ]


def test_kohya_json_reads_the_keep_tokens_separator(tmp_path) -> None:
    folder = write(
        tmp_path / "ds",
        {"a.png": b"", "metadata.json": b'{"a": {"tags": "ohwx, 1girl ||| smile, hat"}}'},
    )
    opened = open_dataset(folder / "metadata.json", "kohya-json")
    assert [t.name for t in opened.dataset.images[0].tags] == ["ohwx", "1girl", "smile", "hat"]
    assert drop_trigger_word(["OHWX", "1girl"], "ohwx") == ["1girl"]
    assert drop_trigger_word(["1girl", "ohwx"], "ohwx") == ["1girl", "ohwx"]


def test_jsonl_lines_name_their_files(tmp_path) -> None:
    lines = [
        {"file_name": "a.png", "text": "x, y", "tags": ["1girl", "red hair"]},
        {"file_name": "b.png", "text": "cat, solo"},
        "not an object",
        {"text": "no file"},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n{broken\n"
    folder = write(tmp_path / "ds", {"a.png": b"", "b.png": b"", "metadata.jsonl": body.encode()})
    opened = open_dataset(folder)
    assert opened.format == "jsonl"
    assert [(i.file, [t.name for t in i.tags]) for i in opened.dataset.images] == [
        ("a.png", ["1girl", "red hair"]),
        ("b.png", ["cat", "solo"]),
    ]
    assert [(p.where, p.reason) for p in opened.dataset.problems] == [
        ("metadata.jsonl:3", "not a JSON object"),
        ("metadata.jsonl:4", "no file_name"),
        ("metadata.jsonl:5", "not JSON: Expecting property name enclosed in double quotes"),
    ]


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("1girl", DatasetTag("1girl")),
        ("character:hatsune miku", DatasetTag("hatsune miku", "character")),
        ("creator:wlop", DatasetTag("wlop", "artist")),
        ("artist:wlop", DatasetTag("wlop", "artist")),
        ("series:vocaloid", DatasetTag("vocaloid", "copyright")),
        ("copyright:vocaloid", DatasetTag("vocaloid", "copyright")),
        ("meta:highres", DatasetTag("highres", "meta")),
        # Namespaces that are no category stay in the name, so they keep their meaning.
        ("rating:safe", DatasetTag("rating:safe")),
        ("person:jane doe", DatasetTag("person:jane doe")),
        ("title:Sunset", DatasetTag("title:Sunset")),
        ("My Own NS:thing", DatasetTag("my own ns:thing")),
        ("re:zero", DatasetTag("re:zero")),  # hydrus reads namespace "re"
        ("species:cat", DatasetTag("cat", "species")),
        ("lore:incest (lore)", DatasetTag("incest (lore)", "lore")),
        ("series:re:zero", DatasetTag("re:zero", "copyright")),
        # A leading colon is hydrus's "no namespace": no category either.
        (":re:zero", DatasetTag("re:zero")),
        (":character:x", DatasetTag("character:x")),
        ("::d", DatasetTag(":d")),  # the emoticon, as hydrus escapes it
        (":d", DatasetTag(":d")),  # CleanTag reads it as ::d
        ("rating:", DatasetTag("rating:")),
    ],
)
def test_hydrus_namespaces_map_to_categories(line, tag) -> None:
    assert hydrus_tag(line) == tag


def test_hydrus_sidecar_problems_are_per_file(tmp_path) -> None:
    folder = write(
        tmp_path / "ds",
        {
            "a.jpg": b"",
            "a.jpg.txt": b"character:miku\n1girl\n",
            "b.jpg": b"",
            "b.jpg.txt": "café".encode("latin-1"),
            "c.jpg": b"",
            "c.jpg.txt": b"\n",
            "d.jpg": b"",  # no sidecar: imported without tags
        },
    )
    opened = open_dataset(folder, "hydrus")
    assert [i.file for i in opened.dataset.images] == ["a.jpg", "c.jpg", "d.jpg"]
    assert [(p.where, p.reason) for p in opened.dataset.problems] == [
        ("b.jpg.txt", "b.jpg.txt is not UTF-8 text (byte 0xe9 at offset 3); image not imported"),
        ("c.jpg.txt", "empty tag file: the image is imported without tags"),
    ]


def test_unreadable_datasets_are_refused_whole(tmp_path) -> None:
    folder = write(tmp_path / "ds", {"a.png": b"", "metadata.json": b"{not json"})
    with pytest.raises(FormatError, match=r"metadata\.json is not JSON: .* at line 1"):
        open_dataset(folder)
    with pytest.raises(FormatError, match=r"tagger\.json not found"):
        open_dataset(folder, "json")
    with pytest.raises(FormatError, match="cannot tell the format"):
        open_dataset(write(tmp_path / "empty", {"a.png": b""}))
    with pytest.raises(FormatError, match="no such file or folder"):
        open_dataset(tmp_path / "missing")


# --- import_dataset ------------------------------------------------------------------------


def test_import_kohya_json_folder(tmp_path, session) -> None:
    folder = write(
        tmp_path / "ds",
        {
            "a.png": png_bytes((10, 0, 0)),
            "b.jpg": jpeg_bytes((0, 10, 0)),
            "bad.png": b"not an image",
            "metadata.json": json.dumps(
                {
                    "a": {"tags": "1girl, hat \\(object\\), red_hair"},
                    "b": {"tags": "cat, ((smile:1.2)), a,b"},
                    "bad": {"tags": "x"},
                }
            ).encode(),
        },
    )
    result = run_import(folder, "--session", session.name)
    assert result == {
        "format": "kohya-json",
        "imported": 2,
        "duplicates": 0,
        "skipped": [{"path": "bad.png", "reason": "not an image"}],
        "problems": [],
    }
    assert session_tags(session) == {
        "a.png": ["1girl", "hat (object)", "red hair"],
        "b.jpg": ["cat", "smile", "a", "b"],
    }
    assert {source for _, _, source in tags_of(Image.objects.get(original_name="a.png").pk)} == {
        "caption"
    }
    again = run_import(folder, "--session", session.name)
    assert (again["imported"], again["duplicates"]) == (0, 2)
    assert SessionImageTag.objects.count() == 7


def test_import_hydrus_zip_sets_categories_and_reports_bad_sidecars(tmp_path, session) -> None:
    archive = tmp_path / "hydrus.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.png", png_bytes((1, 1, 1)))
        zipped.writestr("a.png.txt", "character:hatsune miku\ncreator:wlop\n1girl\nmeta:highres\n")
        zipped.writestr("b.png", png_bytes((2, 2, 2)))
        zipped.writestr("b.png.txt", b"\xff\xfe\x00bad")
    result = run_import(archive, "--session", session.name)
    assert (result["format"], result["imported"], result["skipped"]) == ("hydrus", 1, [])
    assert result["problems"] == [
        {
            "path": "b.png.txt",
            "reason": "b.png.txt is not UTF-8 text (byte 0xff at offset 0); image not imported",
        }
    ]
    (image,) = Image.objects.all()
    assert tags_of(image.pk) == [
        ("hatsune miku", "character", "caption"),
        ("wlop", "artist", "caption"),
        ("1girl", "general", "caption"),
        ("highres", "meta", "caption"),
    ]


# Every namespace, as hydrus's SplitTag reads it, and names with colons.
HYDRUS_SIDECAR = (
    b"rating:safe\nspecies:cat\nperson:jane doe\ntitle:sunset over the sea\n"
    b"my namespace:thing\ncharacter:hatsune miku\ncreator:wlop\nseries:re:zero\n"
    b"lore:incest (lore)\n1girl\n::d\n"
)


def test_hydrus_sidecars_round_trip_every_namespace(tmp_path, session) -> None:
    """rating:safe came back as :rating:safe and species:cat as :species:cat."""
    folder = write(tmp_path / "ds", {"a.png": png_bytes((3, 3, 3)), "a.png.txt": HYDRUS_SIDECAR})
    result = run_import(folder, "--format", "hydrus", "--session", session.name)
    assert (result["imported"], result["problems"]) == (1, [])
    export_to_path(TaggingSession.objects.get(pk=session.pk), "hydrus", tmp_path / "out")
    assert (tmp_path / "out" / "a.png.txt").read_bytes() == HYDRUS_SIDECAR


def test_hydrus_import_never_changes_a_global_tags_category(tmp_path, session) -> None:
    """Importing :re:zero re-categorised a global tag for every session."""
    tags = tags_get_or_create(["re:zero", "1girl"])
    tag_set_category(tags["re:zero"], category="copyright")
    Tag.objects.filter(name="re:zero").update(popularity=5000)  # from a vocabulary
    folder = write(
        tmp_path / "ds",
        {"a.png": png_bytes((4, 4, 4)), "a.png.txt": b":re:zero\ncharacter:1girl\nspecies:fox\n"},
    )
    result = run_import(folder, "--format", "hydrus", "--session", session.name)
    assert result["problems"] == [
        {
            "path": "vocabulary",
            "reason": "tag '1girl' keeps its category 'general' (the dataset says 'character')",
        }
    ]
    categories = dict(Tag.objects.values_list("name", "category"))
    assert categories == {"re:zero": "copyright", "1girl": "general", "fox": "species"}


def test_hydrus_export_marks_vocabulary_names_with_colons_unnamespaced(tmp_path, session) -> None:
    folder = write(tmp_path / "ds", {"a.png": png_bytes((5, 5, 5)), "a.png.txt": b":re:zero\n"})
    run_import(folder, "--format", "hydrus", "--session", session.name)
    out = tmp_path / "out"
    export_to_path(TaggingSession.objects.get(pk=session.pk), "hydrus", out)
    # The session keeps the line as the sidecar wrote it.
    assert (out / "a.png.txt").read_bytes() == b":re:zero\n"
    # Spelled the session's way (as a tag added in Tagger is), a name no
    # vocabulary knows is taken as hydrus's namespace "re"; one a booru knows is marked.
    plain = ExportOptions(keep_spellings=False)
    session = TaggingSession.objects.get(pk=session.pk)
    export_to_path(session, "hydrus", tmp_path / "plain", plain)
    assert (tmp_path / "plain" / "a.png.txt").read_bytes() == b"re:zero\n"
    Tag.objects.filter(name="re:zero").update(popularity=5000)  # danbooru.csv knows it
    export_to_path(session, "hydrus", tmp_path / "again", plain)
    assert (tmp_path / "again" / "a.png.txt").read_bytes() == b":re:zero\n"


def test_bad_invocations_change_nothing(tmp_path, session) -> None:
    folder = write(tmp_path / "ds", {"a.png": png_bytes(), "metadata.json": b"[1, 2]"})
    session.refresh_from_db()
    before = (TaggingSession.objects.count(), Image.objects.count(), session.last_seq)
    with pytest.raises(CommandError, match="expected an object mapping images to records"):
        run_import(folder, "--session", session.name)
    with pytest.raises(CommandError, match="no session called 'Nope'"):
        run_import(folder, "--session", "Nope")
    with pytest.raises(CommandError, match="no such file or folder"):
        run_import(tmp_path / "missing", "--session", "New", "--owner", "alice")
    session.refresh_from_db()
    assert (TaggingSession.objects.count(), Image.objects.count(), session.last_seq) == before


# --- round trips ---------------------------------------------------------------------------

NAMES = ["1girl", "solo", "red hair", "hat (object)", "smile", "cat ears", "outdoors", "^_^"]
CATEGORIES = ["general", "character", "copyright", "artist", "meta"]
SOURCES = ["manual", "caption", "prompt", "rule", "suggestion", "autotagger"]


def wipe() -> None:
    """An empty database, as far as datasets go (users stay; stored files are content-addressed)."""
    TaggingSession.objects.all().delete()
    Image.objects.all().delete()
    Tag.objects.all().delete()


image_strategy = st.fixed_dictionaries(
    {
        "tags": st.lists(
            st.tuples(
                st.sampled_from(NAMES),
                st.sampled_from(SOURCES),
                st.one_of(st.none(), st.sampled_from([0.25, 0.5, 1.0])),
            ),
            max_size=5,
            unique_by=lambda entry: entry[0],
        ),
        "status": st.sampled_from(["todo", "tagged", "reviewed", "skipped"]),
    }
)
dataset_strategy = st.fixed_dictionaries(
    {
        "images": st.lists(image_strategy, min_size=1, max_size=4),
        "categories": st.dictionaries(st.sampled_from(NAMES), st.sampled_from(CATEGORIES)),
        "trigger_word": st.sampled_from(["", "ohwx"]),
        "alias": st.booleans(),
    }
)


def build(owner, spec: dict) -> TaggingSession:
    session = services.session_create(
        owner=owner, name="Source", trigger_word=spec["trigger_word"]
    ).value
    for index, image in enumerate(spec["images"]):
        data = png_bytes((index * 40, 7, 200), size=(16 + index, 16))
        outcome = services.session_import_bytes(
            session, actor=owner, data=data, original_name=f"img{index}.png"
        ).value
        tags_restore(session, outcome.image_id, actor=owner, entries=image["tags"])
        if image["status"] != "todo":
            services.session_image_set_status(
                session, actor=owner, image_id=outcome.image_id, status=image["status"]
            )
    for name, category in spec["categories"].items():
        tag = Tag.objects.filter(name=name).first()
        if tag is not None:
            tag_set_category(tag, category=category)
    # Export carries the aliases and implications of the tags its images use.
    if spec["alias"] and Tag.objects.filter(name="hat (object)").exists():
        hat, smile = tags_get_or_create(["hat (object)", "smile"]).values()
        alias_create(hat, name="headwear")
        implication_create(hat, implied=smile)
    return session


def snapshot(session: TaggingSession) -> dict:
    entries = SessionImage.objects.filter(session=session).order_by("position", "id")
    images = []
    for entry in entries.select_related("image"):
        rows = SessionImageTag.objects.filter(entry__image=entry.image).order_by("position", "id")
        images.append(
            (
                entry.image.sha256,
                entry.image.original_name,
                entry.status,
                list(rows.values_list("tag__name", "tag__category", "source", "confidence")),
            )
        )
    return {
        "images": images,
        "trigger_word": session.trigger_word,
        "aliases": sorted(TagAlias.objects.values_list("name", "tag__name")),
        "implications": sorted(TagImplication.objects.values_list("tag__name", "implied__name")),
    }


@hypothesis_settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=dataset_strategy, as_zip=st.booleans())
def test_tagger_json_round_trip_restores_everything(tmp_path_factory, alice, spec, as_zip) -> None:
    wipe()
    out = tmp_path_factory.mktemp("export") / ("dataset.zip" if as_zip else "dataset")
    source = build(alice, spec)
    expected = snapshot(source)
    export_to_path(source, "json", out)
    wipe()
    result = run_import(out, "--session", "Restored", "--owner", "alice", "--format", "json")
    assert (result["imported"], result["skipped"], result["problems"]) == (
        len(spec["images"]),
        [],
        [],
    )
    assert snapshot(TaggingSession.objects.get(name="Restored")) == expected


@hypothesis_settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=dataset_strategy, fmt=st.sampled_from(["kohya", "kohya-json", "jsonl", "hydrus"]))
def test_caption_formats_round_trip_ordered_tags(tmp_path_factory, alice, spec, fmt) -> None:
    wipe()
    out = tmp_path_factory.mktemp("export") / "dataset"
    source = build(alice, spec)
    expected = list(session_tags(source, captions=True).values())
    export_to_path(source, fmt, out)
    wipe()
    target = services.session_create(
        owner=alice, name="Back", trigger_word=spec["trigger_word"]
    ).value
    result = run_import(out, "--session", "Back", "--format", fmt)
    assert (result["imported"], result["skipped"]) == (len(spec["images"]), [])
    assert [p for p in result["problems"] if "empty" not in p["reason"]] == []
    assert list(session_tags(target).values()) == expected
