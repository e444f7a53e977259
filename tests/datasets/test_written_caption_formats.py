"""Written captions through every export format that can carry a sentence, and back.

Export a session whose images hold sentences, import the files into a new
session, and every caption must come back exactly as written: case,
punctuation, commas, line breaks. The trainer formats put the session's
trigger word in front; the import takes it off again.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from datasets.exporting import ExportOptions, export_to_path
from datasets.importing_formats import open_dataset
from datasets.services import dataset_import
from images.sidecars import looks_like_infotext, looks_like_prose, parse_caption
from sessions_app import services
from sessions_app.models import SessionImage
from tests.support.images import png_bytes

pytestmark = pytest.mark.django_db

RAIN = "A woman with long black hair standing in the rain. She smiles, softly!"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _session_with(alice, captions: list[str], *, trigger: str = "ohwx"):
    session = services.session_create(
        owner=alice, name=f"captions {next(_counter)}", trigger_word=trigger
    ).value
    ids = []
    for index, caption in enumerate(captions):
        outcome = services.session_import_bytes(
            session, actor=alice, data=png_bytes((index, 7, 9)), original_name=f"img{index}.png"
        ).value
        services.caption_set(session, outcome.image_id, actor=alice, text=caption, version=0)
        ids.append(outcome.image_id)
    services.tags_add(session, ids[0], actor=alice, names=["1girl", "rain"])
    return session, ids


def _round_trip(alice, session, fmt: str, folder: Path, **options) -> dict[int, str]:
    export_to_path(session, fmt, folder, ExportOptions(**options))
    again = services.session_create(
        owner=alice, name=f"again {next(_counter)}", trigger_word=session.trigger_word
    ).value
    report = dataset_import(again, actor=alice, opened=open_dataset(folder, fmt)).value
    assert not report.skipped, report.skipped
    return dict(SessionImage.objects.filter(session=again).values_list("image_id", "caption"))


# Sentences as people write them: any printable text, line breaks and tabs,
# ending a sentence. (A BOM at the very start is an encoding mark, not text.)
SENTENCE = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufeff")
    | st.sampled_from("\n\t,.()\\:"),
    min_size=1,
    max_size=120,
).map(lambda text: text.lstrip("\ufeff") + ".")


def _plausible(text: str) -> bool:
    return looks_like_prose(text) and not looks_like_infotext(text) and "|||" not in text


@pytest.mark.parametrize("fmt", ["json", "kohya-json", "jsonl", "kohya"])
@hypothesis_settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=SENTENCE, second=SENTENCE)
def test_sentences_come_back_exactly(alice, tmp_path, fmt, first, second):
    assume(_plausible(first) and _plausible(second))
    session, ids = _session_with(alice, [first, second])
    folder = tmp_path / f"out-{next(_counter)}"
    expected = {ids[0]: first, ids[1]: second}
    back = _round_trip(alice, session, fmt, folder)
    if fmt == "kohya":
        # In a caption file "ohwx,  ." a caption's leading white space cannot be
        # told from the separator after the trigger word (the import reads the
        # separator most files use; sd-scripts strips each token anyway).
        lost_lead = {k: v.lstrip() for k, v in expected.items() if back.get(k) == v.lstrip()}
        expected |= lost_lead
    assert back == expected


def test_tagger_json_keeps_any_text_and_an_empty_caption(alice, tmp_path):
    odd = "no full stop, just words\n\twith a tab"
    session, ids = _session_with(alice, [odd, ""])
    assert _round_trip(alice, session, "json", tmp_path / "out") == {ids[0]: odd, ids[1]: ""}


def test_kohya_caption_files_and_config_for_sentences(alice, tmp_path):
    session, _ = _session_with(alice, [RAIN, ""])
    out = tmp_path / "out"
    export_to_path(session, "kohya", out, ExportOptions(include_images=False))
    files = {p.name: p.read_text() for p in out.iterdir()}
    # The written caption, after the trigger word; the image without one keeps its tags.
    assert files["img0.txt"] == f"ohwx, {RAIN}"
    assert files["img1.txt"] == "ohwx"
    config = tomllib.loads(files["dataset_config.toml"])
    # Shuffling would cut the sentence at its commas and swap the pieces.
    assert config["general"]["shuffle_caption"] is False
    assert parse_caption(files["img0.txt"].encode()).kind == "prose"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("tags", "ohwx, 1girl, rain"),
        ("text", f"ohwx, {RAIN}"),
        ("both", f"ohwx, 1girl, rain, {RAIN}"),
        ("auto", f"ohwx, {RAIN}"),
    ],
)
def test_the_caption_source_says_what_a_caption_file_holds(alice, tmp_path, source, expected):
    session, _ = _session_with(alice, [RAIN])
    out = tmp_path / "out"
    export_to_path(
        session, "kohya", out, ExportOptions(include_images=False, caption_source=source)
    )
    assert (out / "img0.txt").read_text() == expected
    config = tomllib.loads((out / "dataset_config.toml").read_text())
    assert config["general"]["shuffle_caption"] is (source == "tags")


def test_kohya_metadata_holds_caption_and_tags_as_sd_scripts_joins_them(alice, tmp_path):
    session, _ = _session_with(alice, [RAIN])
    out = tmp_path / "out"
    export_to_path(session, "kohya-json", out, ExportOptions(include_images=False))
    record = json.loads((out / "metadata.json").read_text())["img0.png"]
    assert record == {"tags": "ohwx, 1girl, rain", "caption": RAIN}


def test_a_tag_list_caption_file_stays_tags(alice, tmp_path):
    assert parse_caption(b"1girl, long hair, looking at viewer, smile").kind == "tags"
    assert parse_caption(b"masterpiece, 1girl ||| red hair").kind == "tags"
    assert parse_caption(RAIN.encode()).kind == "prose"
    assert parse_caption(b"photo of a man riding a horse on the beach").kind == "prose"


def test_unknown_caption_source_is_refused(alice):
    from tagger_project.errors import InvalidInput

    session, _ = _session_with(alice, [RAIN])
    with pytest.raises(InvalidInput, match="caption source"):
        ExportOptions(caption_source="poem").resolved(session)
