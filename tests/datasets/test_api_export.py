"""GET /api/sessions/{id}/export: every format, every caption option, refusals before any byte."""

import io
import json
import zipfile

import pytest

from sessions_app import services
from sessions_app.services.importing import session_import_bytes
from tests.support.api import ApiClient, error_of
from tests.support.images import png_bytes

TAGS = ["red hair", "cat (animal)", "smile"]


@pytest.fixture
def dataset(session, alice):
    """The session with trigger word "mycat" and one stored image, a.png, tagged TAGS."""
    services.session_update(session, actor=alice, trigger_word="mycat")
    outcome = session_import_bytes(
        session, actor=alice, data=png_bytes(), original_name="a.png"
    ).value
    services.tags_add(session, outcome.image_id, actor=alice, names=TAGS)
    return session


def export(user, session, **params):
    return ApiClient(user).get(f"/sessions/{session.pk}/export", **params)


def unzipped(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def caption(user, session, **params) -> str:
    """a.txt of a kohya export with these query parameters."""
    return unzipped(export(user, session, format="kohya", **params)).read("a.txt").decode()


@pytest.mark.parametrize(
    ("fmt", "entry", "expected"),
    [
        ("kohya", "a.txt", "mycat, red hair, cat (animal), smile"),
        (
            "kohya-json",
            "metadata.json",
            {"a.png": {"tags": "mycat, red hair, cat (animal), smile"}},
        ),
        ("jsonl", "metadata.jsonl", "mycat, red hair, cat (animal), smile"),
        ("hydrus", "a.png.txt", "red hair\ncat (animal)\nsmile\n"),
        ("json", "tagger.json", TAGS),
    ],
)
def test_each_format_downloads_as_a_zip_with_its_captions(dataset, carol, fmt, entry, expected):
    response = export(carol, dataset, format=fmt)
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="cats-{fmt}.zip"'
    archive = unzipped(response)
    assert "a.png" in archive.namelist()
    text = archive.read(entry).decode()
    if fmt == "kohya-json":
        assert json.loads(text) == expected
    elif fmt == "jsonl":
        assert json.loads(text)["text"] == expected
    elif fmt == "json":
        document = json.loads(text)
        assert document["session"]["trigger_word"] == "mycat"
        assert [tag["name"] for tag in document["images"][0]["tags"]] == expected
    else:
        assert text == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "mycat, red hair, cat (animal), smile"),
        ({"trigger_word": "ohwx"}, "ohwx, red hair, cat (animal), smile"),
        ({"trigger_word": ""}, "red hair, cat (animal), smile"),
        ({"separator": " | "}, "mycat | red hair | cat (animal) | smile"),
        ({"underscores": "true"}, "mycat, red_hair, cat_(animal), smile"),
        ({"escape": "true"}, r"mycat, red hair, cat \(animal\), smile"),
        ({"pin": ["smile", "cat (animal)"]}, "mycat, smile, cat (animal), red hair"),
        ({"keep_tokens_separator": "true"}, "mycat ||| red hair, cat (animal), smile"),
        (
            {"pin": ["smile"], "keep_tokens_separator": "true", "trigger_word": ""},
            "smile ||| red hair, cat (animal)",
        ),
    ],
)
def test_each_caption_option_changes_the_caption(dataset, carol, params, expected):
    assert caption(carol, dataset, **params) == expected


def test_options_left_out_follow_the_session_settings(dataset, alice, carol):
    services.session_update(
        dataset, actor=alice, separator="; ", use_underscores=True, escape_parentheses=True
    )
    assert caption(carol, dataset) == r"mycat; red_hair; cat_\(animal\); smile"
    assert caption(carol, dataset, underscores="false", escape="false", separator=", ") == (
        "mycat, red hair, cat (animal), smile"
    )


def test_images_false_leaves_the_images_out(dataset, carol):
    archive = unzipped(export(carol, dataset, format="kohya", images="false", pin="smile"))
    assert sorted(archive.namelist()) == ["a.txt", "dataset_config.toml"]
    assert archive.read("a.txt") == b"mycat, smile, red hair, cat (animal)"


@pytest.mark.parametrize(
    ("params", "status", "where"),
    [
        ({"separator": "   "}, 400, "separator"),
        ({"separator": "123456789"}, 422, "separator"),
        ({"separator": ""}, 422, "separator"),
        ({"underscores": "maybe"}, 422, "underscores"),
        ({"escape": "2"}, 422, "escape"),
        ({"keep_tokens_separator": "yes please"}, 422, "keep_tokens_separator"),
        ({"trigger_word": "x" * 201}, 422, "trigger_word"),
        ({"trigger_word": "a\x00b"}, 422, "trigger_word"),
        ({"pin": [""]}, 422, "pin"),
        ({"pin": ["tag"] * 51}, 422, "pin"),
        ({"pin": ["a, b"]}, 422, "pin"),
        ({"format": "csv"}, 422, "format"),
        ({"status": "done"}, 422, "status"),
    ],
)
def test_bad_option_values_are_refused_before_any_byte(dataset, carol, params, status, where):
    response = export(carol, dataset, **{"format": "kohya", **params})
    assert response.status_code == status
    assert not response.streaming
    assert where in error_of(response)["message"]


def test_viewer_exports_outsider_gets_404_and_anonymous_401(dataset, carol, dave):
    assert export(carol, dataset).status_code == 200
    assert error_of(export(dave, dataset))["code"] == "not_found"
    anonymous = ApiClient().get(f"/sessions/{dataset.pk}/export")
    assert anonymous.status_code == 401
    assert not anonymous.streaming
