import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tags import normalize
from tags.normalize import InvalidTagName, normalize_tag_name, split_caption


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Red_Hair ", "red hair"),
        ("long   hair", "long hair"),
        ("(masterpiece:1.2)", "masterpiece"),
        ("(masterpiece: 0.8)", "masterpiece"),
        ("((best quality))", "best quality"),
        ("[blurry]", "blurry"),
        ("{{cat}}", "cat"),
        (r"artist \(style\)", "artist (style)"),
        (r"hatsune_miku_\(append\)", "hatsune miku (append)"),
        ("(a) (b)", "(a) (b)"),
        ("^_^", "^_^"),
        (">_<", ">_<"),
        (":d", ":d"),
        (":D", ":D"),
        ("(o)_(o)", "(o)_(o)"),
        ("Ｃａｔ", "ｃａｔ"),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize_tag_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "()", "[ ]", "a\x00b", "tab\x07bell", "two\nlines", "a, b", "x" * 201, "\u200bzw"],
)
def test_normalize_refuses_bad_names(raw):
    with pytest.raises(InvalidTagName) as excinfo:
        normalize_tag_name(raw)
    assert excinfo.value.code == "invalid_tag"
    assert "invalid tag" in excinfo.value.message


def test_normalize_accepts_exactly_200_characters():
    assert len(normalize_tag_name("x" * 200)) == 200


# Any printable text, and text dense in the syntax normalization cares about.
tag_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cf")), max_size=60),
    st.text(alphabet="()[]{}\\:_ .,aZ19^<>-oOdD", max_size=30),
)


def _normalized_or_none(raw: str) -> str | None:
    try:
        return normalize_tag_name(raw)
    except InvalidTagName:
        return None


@given(tag_text)
def test_normalizing_twice_equals_once(raw):
    once = _normalized_or_none(raw)
    assume(once is not None)
    assert normalize_tag_name(once) == once


@given(st.lists(tag_text, min_size=1, max_size=8))
def test_normalized_names_survive_a_caption_round_trip(raws):
    names = [name for name in map(_normalized_or_none, raws) if name is not None]
    assume(names)
    caption = ", ".join(names)
    assert [normalize_tag_name(token) for token in split_caption(caption)] == names


@given(st.from_regex(r"[a-z0-9_ ]{1,12}", fullmatch=True) | st.sampled_from(["o_o", "x_x", "xd"]))
def test_the_plain_name_shortcut_agrees_with_the_full_normalization(raw: str) -> None:
    try:
        expected = normalize._normalize_fully(raw)
    except InvalidTagName:
        expected = None
    try:
        assert normalize_tag_name(raw) == expected
    except InvalidTagName:
        assert expected is None
