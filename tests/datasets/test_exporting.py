"""Dataset export: every format read back file by file, as folder, zip and stream."""

from __future__ import annotations

import io
import json
import tomllib
import zipfile
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse

from datasets.exporting import (
    ExportOptions,
    ExportReport,
    async_chunks,
    export_entries,
    export_stream,
    export_to_path,
    rows,
)
from images.models import Image
from sessions_app import services
from sessions_app.models import SessionImage, SessionImageTag
from tagger_project.errors import InvalidInput
from tags.models import Tag, TagSource
from tags.services import alias_create, implication_create, tag_set_category
from tests.support.images import jpeg_bytes, png_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test stores files under its own folder, never var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def add_image(session, actor, data: bytes, name: str, tags: list[str]) -> Image:
    outcome = services.session_import_bytes(
        session, actor=actor, data=data, original_name=name
    ).value
    assert outcome.status == "imported", outcome
    if tags:
        services.tags_add(session, outcome.image_id, actor=actor, names=tags)
    return Image.objects.get(pk=outcome.image_id)


@pytest.fixture
def dataset(session, alice):
    """Four images; two named a.png (different folders), one a.jpg, one hostile name."""
    images = [
        add_image(session, alice, png_bytes((255, 0, 0)), "a.png", ["1girl", "red hair", "smile"]),
        add_image(session, alice, jpeg_bytes((0, 255, 0)), "a.jpg", ["cat", "hat (object)"]),
        add_image(session, alice, png_bytes((0, 0, 255)), "a.png", ["ohwx", "blue sky"]),
        add_image(session, alice, png_bytes((9, 9, 9)), "passwd.png", []),
    ]
    # Names that older imports or other tools could have stored.
    Image.objects.filter(pk=images[3].pk).update(original_name="../../etc/passwd.png")
    SessionImage.objects.filter(image=images[3]).update(original_name="../../etc/passwd.png")
    images[3].refresh_from_db()
    return images


def stored_bytes(image: Image) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()


def read_folder(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_kohya_folder_read_back_file_by_file(session, dataset, tmp_path):
    report = export_to_path(session, "kohya", tmp_path / "out")
    files = read_folder(tmp_path / "out")
    assert sorted(files) == sorted(
        [
            "a.png",
            "a.txt",
            "a-2.jpg",
            "a-2.txt",
            "a-3.png",
            "a-3.txt",
            "passwd.png",
            "passwd.txt",
            "dataset_config.toml",
        ]
    )
    assert files["a.txt"] == b"1girl, red hair, smile"
    assert files["a-2.txt"] == b"cat, hat (object)"
    assert files["a-3.txt"] == b"ohwx, blue sky"
    assert files["passwd.txt"] == b""
    for image, name in zip(dataset, ["a.png", "a-2.jpg", "a-3.png", "passwd.png"], strict=True):
        assert files[name] == stored_bytes(image)
    assert report.images == 4
    assert [(r.original, r.exported) for r in report.renamed] == [
        ("a.jpg", "a-2.jpg"),
        ("a.png", "a-3.png"),
        ("../../etc/passwd.png", "passwd.png"),
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["media", "out"]


def test_kohya_zip_holds_the_same_files_as_the_folder(session, dataset, tmp_path):
    # A folder's TOML names its absolute path; a zip's names "." (where it is unpacked).
    export_to_path(session, "kohya", tmp_path / "folder", ExportOptions(image_dir="."))
    export_to_path(session, "kohya", tmp_path / "out.zip")
    assert read_zip((tmp_path / "out.zip").read_bytes()) == read_folder(tmp_path / "folder")
    assert not (tmp_path / "out.zip.partial").exists()


def test_stream_is_a_valid_zip_with_a_download_name(session, dataset, tmp_path):
    content_type, filename, chunks = export_stream(session, "kohya")
    assert (content_type, filename) == ("application/zip", "cats-kohya.zip")
    export_to_path(session, "kohya", tmp_path / "folder", ExportOptions(image_dir="."))
    assert read_zip(b"".join(chunks)) == read_folder(tmp_path / "folder")


def test_trigger_word_comes_first_once(session, dataset, alice, tmp_path):
    services.session_update(session, actor=alice, trigger_word="ohwx")
    export_to_path(session, "kohya", tmp_path / "out", ExportOptions(include_images=False))
    files = read_folder(tmp_path / "out")
    assert files["a.txt"] == b"ohwx, 1girl, red hair, smile"
    assert files["a-3.txt"] == b"ohwx, blue sky"  # the tag is not repeated
    assert files["passwd.txt"] == b"ohwx"
    assert "a.png" not in files
    config = tomllib.loads(files["dataset_config.toml"].decode())
    assert config["general"]["keep_tokens"] == 1
    assert config["general"]["caption_extension"] == ".txt"
    # sd-scripts resolves image_dir from its own working directory: absolute for a folder.
    assert config["datasets"][0]["subsets"][0]["image_dir"] == str((tmp_path / "out").resolve())


def test_underscores_escaping_and_separator(session, dataset, alice, tmp_path):
    services.session_update(
        session, actor=alice, use_underscores=True, escape_parentheses=True, separator=","
    )
    export_to_path(session, "kohya", tmp_path / "out", ExportOptions(include_images=False))
    files = read_folder(tmp_path / "out")
    assert files["a.txt"] == b"1girl,red_hair,smile"
    assert files["a-2.txt"] == rb"cat,hat_\(object\)"
    options = ExportOptions(include_images=False, use_underscores=False, escape_parentheses=False)
    export_to_path(session, "kohya", tmp_path / "plain", options)
    assert read_folder(tmp_path / "plain")["a-2.txt"] == b"cat,hat (object)"


def test_pinned_head_and_keep_tokens_separator(session, dataset, alice, tmp_path):
    services.session_update(session, actor=alice, trigger_word="my char")
    options = ExportOptions(
        include_images=False, pinned=("Smile", "red_hair"), keep_tokens_separator=True
    )
    export_to_path(session, "kohya", tmp_path / "out", options)
    files = read_folder(tmp_path / "out")
    assert files["a.txt"] == b"my char, smile, red hair ||| 1girl"
    assert files["a-2.txt"] == b"my char ||| cat, hat (object)"
    assert files["passwd.txt"] == b"my char |||"
    config = tomllib.loads(files["dataset_config.toml"].decode())
    assert config["general"]["keep_tokens"] == 1  # the shortest head: the trigger word
    assert config["general"]["keep_tokens_separator"] == "|||"


def test_keep_tokens_is_the_shortest_head(session, dataset, tmp_path):
    options = ExportOptions(include_images=False, trigger_word="", pinned=("cat",))
    export_to_path(session, "kohya", tmp_path / "out", options)
    files = read_folder(tmp_path / "out")
    assert files["a-2.txt"] == b"cat, hat (object)"
    assert tomllib.loads(files["dataset_config.toml"].decode())["general"]["keep_tokens"] == 0


def test_tagger_json_document_is_complete(session, dataset, alice, tmp_path):
    _, second, _, fourth = dataset
    services.session_update(session, actor=alice, trigger_word="ohwx", use_underscores=True)
    tag_set_category(Tag.objects.get(name="1girl"), category="meta")
    alias_create(Tag.objects.get(name="cat"), name="neko")
    implication_create(Tag.objects.get(name="cat"), implied=Tag.objects.create(name="animal"))
    alias_create(Tag.objects.create(name="unrelated"), name="elsewhere")
    services.session_image_set_status(session, actor=alice, image_id=second.pk, status="reviewed")
    services.tags_add(session, fourth.pk, actor=alice, names=["rated"], source=TagSource.AUTOTAGGER)
    SessionImageTag.objects.filter(entry__image=fourth, tag__name="rated").update(confidence=0.75)

    export_to_path(session, "json", tmp_path / "out")
    files = read_folder(tmp_path / "out")
    assert sorted(files) == ["a-2.jpg", "a-3.png", "a.png", "passwd.png", "tagger.json"]
    document = json.loads(files["tagger.json"])
    assert (document["format"], document["version"]) == ("tagger-dataset", 2)
    assert "exported_at" not in document  # two exports of one session are the same bytes
    assert document["rules"] == {"blacklist": [], "pinned": [], "category_order": []}
    assert document["members"] == [
        {"username": "alice", "role": "owner"},
        {"username": "bob", "role": "editor"},
        {"username": "carol", "role": "viewer"},
    ]
    assert document["session"] == {
        "name": "Cats",
        "description": "",
        "trigger_word": "ohwx",
        "separator": ", ",
        "use_underscores": True,
        "escape_parentheses": False,
        "caption_style": {},  # made here, not imported: no style of its own to keep
    }
    assert document["subsets"] == []
    vocabulary = document["vocabulary"]
    assert [t["name"] for t in vocabulary["tags"]] == sorted(
        ["1girl", "red hair", "smile", "cat", "hat (object)", "ohwx", "blue sky", "rated", "animal"]
    )
    assert {t["name"]: t["category"] for t in vocabulary["tags"]}["1girl"] == "meta"
    assert vocabulary["aliases"] == [{"name": "neko", "tag": "cat"}]
    assert vocabulary["implications"] == [{"tag": "cat", "implied": "animal"}]
    records = document["images"]
    assert [r["file"] for r in records] == ["a.png", "a-2.jpg", "a-3.png", "passwd.png"]
    for record, image in zip(records, dataset, strict=True):
        assert files[record["file"]] == stored_bytes(image)
        assert record["sha256"] == image.sha256
        assert (record["width"], record["height"], record["format"]) == (64, 48, image.format)
        assert record["byte_size"] == image.byte_size
    assert records[3]["original_name"] == "../../etc/passwd.png"
    assert [r["status"] for r in records] == ["todo", "reviewed", "todo", "todo"]
    assert records[0]["tags"] == [
        {"name": "1girl", "category": "meta", "source": "manual", "confidence": None},
        {"name": "red hair", "category": "general", "source": "manual", "confidence": None},
        {"name": "smile", "category": "general", "source": "manual", "confidence": None},
    ]
    assert records[3]["tags"] == [
        {"name": "rated", "category": "general", "source": "autotagger", "confidence": 0.75}
    ]
    assert [r["position"] for r in records] == [1, 2, 3, 4]


def test_tagger_json_without_images_streams_the_bare_document(session, dataset):
    content_type, filename, chunks = export_stream(
        session, "json", ExportOptions(include_images=False)
    )
    assert (content_type, filename) == ("application/json", "cats-json.json")
    document = json.loads(b"".join(chunks))
    assert [r["file"] for r in document["images"]] == ["a.png", "a-2.jpg", "a-3.png", "passwd.png"]


def test_empty_session_exports_valid_documents(session, tmp_path):
    for fmt in ["json", "kohya-json", "jsonl", "kohya", "hydrus"]:
        export_to_path(session, fmt, tmp_path / fmt)
    assert json.loads((tmp_path / "json" / "tagger.json").read_bytes())["images"] == []
    assert json.loads((tmp_path / "kohya-json" / "metadata.json").read_bytes()) == {}
    assert (tmp_path / "jsonl" / "metadata.jsonl").read_bytes() == b""
    assert sorted(read_folder(tmp_path / "kohya")) == ["dataset_config.toml"]


def test_kohya_json_maps_file_names_to_tag_strings(session, dataset, alice, tmp_path):
    services.session_update(session, actor=alice, trigger_word="ohwx")
    Image.objects.filter(pk=dataset[0].pk).update(metadata={"caption": "a girl smiling"})
    export_to_path(session, "kohya-json", tmp_path / "out")
    files = read_folder(tmp_path / "out")
    assert sorted(files) == ["a-2.jpg", "a-3.png", "a.png", "metadata.json", "passwd.png"]
    assert json.loads(files["metadata.json"]) == {
        # sd-scripts' FineTuningDataset opens image_dir / key: stems raised FileNotFoundError.
        "a.png": {"tags": "ohwx, 1girl, red hair, smile", "caption": "a girl smiling"},
        "a-2.jpg": {"tags": "ohwx, cat, hat (object)"},
        "a-3.png": {"tags": "ohwx, blue sky"},
        "passwd.png": {"tags": "ohwx"},
    }


def test_jsonl_has_one_line_per_image(session, dataset, tmp_path):
    export_to_path(session, "jsonl", tmp_path / "out")
    files = read_folder(tmp_path / "out")
    lines = [json.loads(line) for line in files["metadata.jsonl"].splitlines()]
    assert lines[:2] == [
        {
            "file_name": "a.png",
            "text": "1girl, red hair, smile",
            "tags": ["1girl", "red hair", "smile"],
        },
        {"file_name": "a-2.jpg", "text": "cat, hat (object)", "tags": ["cat", "hat (object)"]},
    ]
    assert len(lines) == 4
    assert all(files[line["file_name"]] for line in lines)


def test_hydrus_sidecars_use_namespaces(session, dataset, tmp_path):
    tag_set_category(Tag.objects.get(name="1girl"), category="meta")
    tag_set_category(Tag.objects.get(name="red hair"), category="character")
    tag_set_category(Tag.objects.get(name="cat"), category="artist")
    tag_set_category(Tag.objects.get(name="hat (object)"), category="copyright")
    services.tags_add(session, dataset[2].pk, actor=None, names=["re:zero", "rating:safe"])
    # A booru vocabulary's name (it has a post count): hydrus's "no namespace" colon.
    Tag.objects.filter(name="re:zero").update(popularity=1000)
    export_to_path(session, "hydrus", tmp_path / "out")
    files = read_folder(tmp_path / "out")
    assert files["a.png.txt"] == b"meta:1girl\ncharacter:red hair\nsmile\n"
    assert files["a-2.jpg.txt"] == b"creator:cat\nseries:hat (object)\n"
    # rating:safe is hydrus's rating namespace, and goes back as one.
    assert files["a-3.png.txt"] == b"ohwx\nblue sky\n:re:zero\nrating:safe\n"
    assert files["passwd.png.txt"] == b""
    assert files["a-2.jpg"] == stored_bytes(dataset[1])


def test_status_filter_exports_only_those_images(session, dataset, alice, tmp_path):
    services.session_image_set_status(session, actor=alice, image_id=dataset[1].pk, status="tagged")
    export_to_path(session, "kohya", tmp_path / "out", ExportOptions(statuses=("tagged",)))
    assert sorted(read_folder(tmp_path / "out")) == ["a.jpg", "a.txt", "dataset_config.toml"]


def test_missing_stored_file_is_reported_and_skipped(session, dataset, tmp_path):
    default_storage.delete(dataset[1].file.name)
    report = ExportReport()
    export_to_path(session, "kohya", tmp_path / "out", report=report)
    assert report.missing == ["a.jpg"]
    assert "a-2.jpg" not in read_folder(tmp_path / "out") and report.images == 3


@pytest.mark.parametrize(
    ("fmt", "options", "message"),
    [
        ("csv", ExportOptions(), "unknown export format 'csv'"),
        ("kohya", ExportOptions(statuses=("done",)), "unknown status 'done'"),
        ("kohya", ExportOptions(separator="  "), "separator"),
        ("kohya", ExportOptions(pinned=("a\x00b",)), "control characters"),
    ],
)
def test_bad_requests_are_refused_before_any_byte(session, dataset, fmt, options, message):
    with pytest.raises(InvalidInput, match=message):
        export_stream(session, fmt, options)
    with pytest.raises(InvalidInput, match=message):
        export_entries(session, fmt, options)


def test_queries_do_not_grow_with_the_number_of_images(
    session, dataset, alice, django_assert_max_num_queries, tmp_path
):
    rows_chunk = rows.CHUNK_SIZE
    rows.CHUNK_SIZE = 2  # several chunks with four images
    try:
        # 12 before the backup carried rules, members and subsets: one query each, per export.
        with django_assert_max_num_queries(15):
            export_to_path(session, "json", tmp_path / "out")
    finally:
        rows.CHUNK_SIZE = rows_chunk


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("error:StreamingHttpResponse must consume")
async def test_async_chunks_serve_the_zip_under_asgi_chunk_by_chunk(session, dataset):
    def sync_zip() -> bytes:
        return b"".join(export_stream(session, "kohya").chunks)

    stream = await sync_to_async(export_stream)(session, "kohya")
    response = StreamingHttpResponse(async_chunks(stream.chunks))
    parts = [part async for part in response]
    assert read_zip(b"".join(parts)) == read_zip(await sync_to_async(sync_zip)())


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("error:StreamingHttpResponse must consume")
async def test_export_endpoint_streams_under_asgi(session, dataset, alice, async_client):
    await async_client.aforce_login(alice)
    response = await async_client.get(f"/api/sessions/{session.pk}/export", {"format": "hydrus"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    files = read_zip(b"".join([part async for part in response.streaming_content]))
    assert files["a.png.txt"] == b"1girl\nred hair\nsmile\n"
