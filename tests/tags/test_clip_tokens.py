"""CLIP token counts against ids from the reference tokenizer (open_clip SimpleTokenizer)."""

import pytest

from tags.clip_tokens import clip_token_count, clip_tokens

# Each expectation was produced by open_clip 3.3.0's SimpleTokenizer.encode on the same vocabulary.
REFERENCE = {
    "a photo of a cat": [320, 1125, 539, 320, 2368],
    "score_9, score_8_up, rating_explicit": [
        4431, 318, 280, 267, 4431, 318, 279, 318, 705, 267, 10567, 318, 33228,
    ],
    "&amp; don't stop \\(sumireko\\)": [261, 847, 713, 1691, 59, 263, 605, 38140, 2448, 59, 264],
    "hatsune miku, twintails, aqua eyes, 🎤 microphone": [
        3447, 41096, 37703, 267, 9342, 16066, 267, 18613, 3095, 267, 15690, 24643,
    ],
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ": [9407, 23571, 5334],
    "café crème brûlée": [15304, 1075, 12138, 614, 711, 127, 119, 75, 13489],
}  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), REFERENCE.items())
def test_tokens_match_the_reference_tokenizer(text, expected):
    assert clip_tokens(text) == expected


def test_count_ignores_case_and_extra_whitespace():
    assert clip_token_count("  A   Photo of a CAT ") == 5
    assert clip_token_count("") == 0
