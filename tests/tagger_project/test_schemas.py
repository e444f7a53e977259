"""The shared schema types state what the server refuses, and say it in words."""

import re
import sys
import unicodedata

import pytest

from sessions_app.selectors import decode_cursor, encode_cursor
from tagger_project.errors import InvalidInput
from tagger_project.schemas import (
    ID_CURSOR,
    INVISIBLE,
    POSITION_CURSOR,
    TAG_NAME_PATTERN,
    VISIBLE,
)
from tests.support.api import ApiClient, error_of

REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co")
PRIVATE_USE_PLANES = range(0xF0000, 0x110000)


def test_invisible_is_what_names_refuse_less_surrogates_and_the_planes_stated_in_words():
    # Surrogates never reach a pattern (pydantic refuses them as no text); the two
    # private-use planes are stated in the types' descriptions.
    in_class = re.compile(f"[{INVISIBLE}]")
    differ = [
        hex(point)
        for point in range(sys.maxunicode + 1)
        if not (0xD800 <= point <= 0xDFFF or point in PRIVATE_USE_PLANES)
        and (unicodedata.category(chr(point)) in REFUSED_CATEGORIES)
        != bool(in_class.match(chr(point)))
    ]
    assert differ == []


@pytest.mark.parametrize(
    ("text", "visible", "tag"),
    [
        ("red hair", True, True),
        ("猫 (cat)", True, True),
        ("a, b", True, False),
        ("   ", False, False),
        ("two\nlines", False, False),
        ("zero\u200bwidth", False, False),
        ("trailing newline\n", False, False),
    ],
)
def test_name_patterns(text, visible, tag):
    assert bool(re.fullmatch(VISIBLE, text)) is visible
    assert bool(re.fullmatch(TAG_NAME_PATTERN, text)) is tag


def test_every_cursor_made_matches_its_pattern_and_reads_back():
    assert re.fullmatch(ID_CURSOR, encode_cursor(2**53))
    assert re.fullmatch(POSITION_CURSOR, encode_cursor(0, 17))
    assert decode_cursor(encode_cursor(12, 345), 2) == [12, 345]
    for cursor, size in [("12", 2), ("1.x", 2), ("٣", 1), ("-1", 1)]:
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, size)


def test_pattern_refusals_are_said_in_words_not_as_the_pattern(session, alice):
    response = ApiClient(alice).patch(f"/sessions/{session.pk}", {"name": "bell\x07"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["message"] == (
        "body.payload.name: must be visible text, without line breaks, control or invisible"
        " characters"
    )
    assert INVISIBLE not in response.content.decode()
