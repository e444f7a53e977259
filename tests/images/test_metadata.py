"""Tests for images.metadata: prompt tokens and generation metadata from raw chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from images.metadata import parse_infotext, prompt_tokens, read_generation_metadata, split_tags


@pytest.mark.parametrize(
    ("prompt", "tokens"),
    [
        ("1girl, solo, cat ears", ["1girl", "solo", "cat ears"]),
        ("a,\nb\r\nc,,  , d\n", ["a", "b", "c", "d"]),
        ("(masterpiece:1.2), [blurry], red hair", ["masterpiece", "blurry", "red hair"]),
        ("cat <lora:catgirl_v2:0.8>, dog", ["cat", "dog"]),
        ("<lora:a:1><hypernet:b:0.5> cat <lyco:c:0.3:0.2>", ["cat"]),
        ("red hair BREAK blue eyes, BREAK, smile", ["red hair", "blue eyes", "smile"]),
        ("BREAKFAST, BREAK", ["BREAKFAST"]),
        ("embedding:EasyNegative, cat", ["cat"]),
        (
            "masterpiece, best quality,  cat, space, icon",
            ["masterpiece", "best quality", "cat", "space", "icon"],
        ),
        ("", []),
    ],
)
def test_prompt_tokens(prompt: str, tokens: list[str]) -> None:
    assert prompt_tokens(prompt) == tokens


def test_split_tags_keeps_angle_brackets_and_break() -> None:
    assert split_tags("<lora:x:1>, BREAK ,a") == ["<lora:x:1>", "BREAK", "a"]


def test_infotext_is_parsed_with_parameters() -> None:
    metadata = parse_infotext(
        "photo of a duck\nNegative prompt: monochrome\n"
        "Steps: 15, Sampler: UniPC, CFG scale: 5, Seed: 235284042, Size: 512x400, "
        "Model hash: c0d1994c73, Model: realistic_realisticVisionV20_v20"
    )
    assert metadata["prompt"] == "photo of a duck"
    assert metadata["negative_prompt"] == "monochrome"
    assert (metadata["steps"], metadata["sampler"], metadata["cfg_scale"]) == (15, "UniPC", 5.0)
    assert metadata["seed"] == 235284042
    assert metadata["model"] == "realistic_realisticVisionV20_v20"


@pytest.mark.parametrize(
    "text",
    [
        "red hair, smile\nNegative prompt: lowres",
        "red hair, smile\nNegative prompt: lowres\nSteps: 20",  # too few parameters for sd-parsers
    ],
)
def test_infotext_without_full_parameters_keeps_its_prompts(text: str) -> None:
    metadata = parse_infotext(text)
    assert (metadata["prompt"], metadata["negative_prompt"]) == ("red hair, smile", "lowres")
    assert metadata["generator"] == "AUTOMATIC1111"
    assert metadata["steps"] is None


def test_nul_characters_are_dropped_for_postgresql() -> None:
    metadata = read_generation_metadata(
        {"parameters": "cat\x00, dog\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 1"},
        Image.Exif(),
    )
    assert metadata["prompt"] == "cat, dog"


def test_a_jpeg_comment_segment_is_read() -> None:
    info = {"comment": b"cat\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 3"}
    assert read_generation_metadata(info, Image.Exif())["seed"] == 3


# The text chunk names that the sd-parsers parsers look for.
CHUNK_NAMES = ["parameters", "prompt", "workflow", "Description", "Comment", "Source", "Software"]
CHUNK_NAMES += ["invokeai_metadata", "sd-metadata", "Dream"]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(CHUNK_NAMES),
        st.one_of(
            st.text(),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            ).map(json.dumps),
        ),
    )
)
def test_any_text_chunks_give_json_or_nothing(chunks: dict[str, str]) -> None:
    metadata = read_generation_metadata(chunks, Image.Exif())
    assert json.loads(json.dumps(metadata, allow_nan=False)) == metadata
