"""The exported dataset_config.toml and captions, read the way kohya sd-scripts reads them.

Written against sd-scripts' library/config_util.py (a [general] key is
inherited by every dataset and subset unless they set it) and
train_util.BaseDataset.process_caption: with shuffling on, a caption is
split at `caption_separator` (default ","), each token stripped, and the
first `keep_tokens` tokens stay in place (or everything before
`keep_tokens_separator`). sd-scripts resolves `image_dir` from the
directory the trainer runs in.
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from datasets.exporting import ExportOptions, ExportReport, export_to_path
from sessions_app import services
from sessions_app.models import SessionImage
from sessions_app.services.written_caption import caption_replace
from tests.support.images import png_bytes

# sd-scripts' defaults (library/config_util.py BaseSubsetParams) where the TOML is silent.
DEFAULTS = {
    "caption_separator": ",",
    "keep_tokens": 0,
    "keep_tokens_separator": None,
    "shuffle_caption": False,
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def subset_settings(config: dict) -> dict:
    """The first subset's settings after sd-scripts' general → dataset → subset inheritance."""
    dataset = config["datasets"][0]
    subset = dataset["subsets"][0]
    return {**DEFAULTS, **config.get("general", {}), **dataset, **subset}


def kept_in_place(caption: str, settings: dict) -> list[str]:
    """The tokens shuffling leaves first (process_caption's fixed_tokens).

    Without shuffling sd-scripts leaves the caption as it is: every token stays,
    and a `|||` in it is trained as text.
    """
    separator = settings["caption_separator"]
    if not settings["shuffle_caption"]:
        return tokens(caption, settings)
    if settings["keep_tokens_separator"] and settings["keep_tokens_separator"] in caption:
        fixed = caption.split(settings["keep_tokens_separator"], 1)[0]
        return [t.strip() for t in fixed.split(separator) if t.strip()]
    split = [t.strip() for t in caption.strip().split(separator)]
    return split[: settings["keep_tokens"]]


def tokens(caption: str, settings: dict) -> list[str]:
    return [t.strip() for t in caption.strip().split(settings["caption_separator"])]


def export(
    session, tmp_path: Path, report: ExportReport | None = None, **options
) -> tuple[dict, dict[str, str]]:
    out = tmp_path / "out"
    export_to_path(session, "kohya", out, ExportOptions(include_images=False, **options), report)
    files = {p.name: p.read_text() for p in out.iterdir()}
    return subset_settings(tomllib.loads(files.pop("dataset_config.toml"))), files


@pytest.fixture
def tagged(session, alice):
    outcome = services.session_import_bytes(
        session, actor=alice, data=png_bytes((1, 2, 3)), original_name="img1.png"
    ).value
    services.tags_add(session, outcome.image_id, actor=alice, names=["smile", "long hair", "1girl"])
    return session


def test_a_separator_other_than_a_comma_is_the_caption_separator(tagged, tmp_path) -> None:
    """With --separator "; " sd-scripts saw one token and shuffling silently stopped."""
    settings, files = export(tagged, tmp_path, separator="; ")
    assert files["img1.txt"] == "smile; long hair; 1girl"
    assert settings["caption_separator"] == ";"
    assert tokens(files["img1.txt"], settings) == ["smile", "long hair", "1girl"]


def test_a_comma_separator_leaves_sd_scripts_default(tagged, tmp_path) -> None:
    settings, files = export(tagged, tmp_path, separator=",")
    assert (
        "caption_separator"
        not in tomllib.loads((tmp_path / "out/dataset_config.toml").read_text())["general"]
    )
    assert tokens(files["img1.txt"], settings) == ["smile", "long hair", "1girl"]


def test_keep_tokens_counts_a_trigger_word_with_a_comma_as_sd_scripts_does(
    tagged, tmp_path
) -> None:
    """`ohwx, woman` is two tokens: keep_tokens = 2 let the pinned tag be shuffled."""
    settings, files = export(tagged, tmp_path, trigger_word="ohwx, woman", pinned=("1girl",))
    assert files["img1.txt"] == "ohwx, woman, 1girl, smile, long hair"
    assert settings["keep_tokens"] == 3
    assert kept_in_place(files["img1.txt"], settings) == ["ohwx", "woman", "1girl"]


def test_keep_tokens_with_another_separator(tagged, tmp_path) -> None:
    settings, files = export(
        tagged, tmp_path, trigger_word="ohwx, woman", pinned=("1girl",), separator="; "
    )
    # Split at ";", the trigger word is one token.
    assert (settings["keep_tokens"], settings["caption_separator"]) == (2, ";")
    assert kept_in_place(files["img1.txt"], settings) == ["ohwx, woman", "1girl"]


def test_keep_tokens_separator_keeps_the_head(tagged, tmp_path) -> None:
    settings, files = export(
        tagged, tmp_path, trigger_word="ohwx, woman", pinned=("1girl",), keep_tokens_separator=True
    )
    assert kept_in_place(files["img1.txt"], settings) == ["ohwx", "woman", "1girl"]


def test_a_folder_export_names_its_absolute_path(tagged, tmp_path, monkeypatch) -> None:
    """image_dir "." was read from the trainer's working directory: "no images found"."""
    monkeypatch.chdir(tmp_path)
    export_to_path(tagged, "kohya", Path("rel/out"))
    config = tomllib.loads((tmp_path / "rel/out/dataset_config.toml").read_text())
    image_dir = Path(subset_settings(config)["image_dir"])
    assert image_dir.is_absolute() and image_dir == (tmp_path / "rel/out").resolve()
    assert (image_dir / "img1.png").is_file()


def test_a_zip_says_dot_unless_told_where_it_will_be_unpacked(tagged, tmp_path) -> None:
    export_to_path(tagged, "kohya", tmp_path / "a.zip")
    text = zipfile.ZipFile(tmp_path / "a.zip").read("dataset_config.toml").decode()
    assert subset_settings(tomllib.loads(text))["image_dir"] == "."
    assert "# sd-scripts reads image_dir from the directory it runs in" in text
    out = io.StringIO()
    call_command(
        "export_dataset", tagged.name, "--out", str(tmp_path / "b.zip"),
        "--image-dir", "/data/lora/cats", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    text = zipfile.ZipFile(tmp_path / "b.zip").read("dataset_config.toml").decode()
    assert subset_settings(tomllib.loads(text))["image_dir"] == "/data/lora/cats"


def test_a_tag_the_trigger_word_writes_is_not_written_again(tagged, alice, tmp_path) -> None:
    """`ohwx, woman, long hair, ohwx, …`: the trigger was set after the images were tagged."""
    image_id = SessionImage.objects.get(session=tagged).image_id
    services.tags_add(tagged, image_id, actor=alice, names=["ohwx", "woman"])
    settings, files = export(tagged, tmp_path, trigger_word="ohwx, woman")
    assert files["img1.txt"] == "ohwx, woman, smile, long hair, 1girl"
    assert settings["keep_tokens"] == 2


def test_no_keep_tokens_separator_where_shuffling_is_off(tagged, alice, tmp_path) -> None:
    """sd-scripts reads `|||` only while shuffling: with it off, `|||` trained as text."""
    image_id = SessionImage.objects.get(session=tagged).image_id
    caption_replace(tagged, image_id, actor=alice, text="A woman standing in the rain.")
    report = ExportReport()
    settings, files = export(
        tagged,
        tmp_path,
        report,
        trigger_word="ohwx",
        pinned=("1girl",),
        keep_tokens_separator=True,
        caption_source="both",
    )
    assert settings["shuffle_caption"] is False  # a written caption is not shuffled
    assert files["img1.txt"] == "ohwx, 1girl, smile, long hair, A woman standing in the rain."
    assert not any("|||" in token for token in kept_in_place(files["img1.txt"], settings))
    assert settings["keep_tokens_separator"] is None
    assert [note.split(":")[0] for note in report.notes] == ["no ||| written"]


def test_keep_tokens_separator_is_written_where_shuffling_is_on(tagged, tmp_path) -> None:
    report = ExportReport()
    settings, files = export(
        tagged, tmp_path, report, trigger_word="ohwx", pinned=("1girl",), keep_tokens_separator=True
    )
    assert settings["shuffle_caption"] is True
    assert files["img1.txt"] == "ohwx, 1girl ||| smile, long hair"
    assert kept_in_place(files["img1.txt"], settings) == ["ohwx", "1girl"]
    assert report.notes == []


def test_pinned_tags_past_keep_tokens_are_noted(tagged, alice, tmp_path) -> None:
    """keep_tokens is the shortest head: an image without the pinned tag sets it."""
    outcome = services.session_import_bytes(
        tagged, actor=alice, data=png_bytes((4, 5, 6)), original_name="img2.png"
    ).value
    services.tags_add(tagged, outcome.image_id, actor=alice, names=["smile"])
    report = ExportReport()
    settings, files = export(tagged, tmp_path, report, trigger_word="ohwx", pinned=("1girl",))
    assert files["img1.txt"] == "ohwx, 1girl, smile, long hair"
    assert files["img2.txt"] == "ohwx, smile"
    assert settings["keep_tokens"] == 1
    # img1's pinned tag is shuffled, and the report says so and what to do.
    assert kept_in_place(files["img1.txt"], settings) == ["ohwx"]
    assert len(report.notes) == 1 and "keep_tokens_separator" in report.notes[0]
    report = ExportReport()
    export(tagged, tmp_path / "sep", report, trigger_word="ohwx", pinned=("1girl",),
           keep_tokens_separator=True)  # fmt: skip
    assert report.notes == []


def test_the_config_says_a_resolution_is_needed(tagged, tmp_path) -> None:
    """sd-scripts stops with "resolution is required" when neither the TOML nor a flag says it."""
    export(tagged, tmp_path)
    text = (tmp_path / "out" / "dataset_config.toml").read_text()
    assert "resolution" not in tomllib.loads(text)["general"]  # not ours to guess
    assert "# sd-scripts needs a resolution: pass --resolution" in text
