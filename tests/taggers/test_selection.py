"""Selecting tags from scores: the reference defaults, MCut, rating, exclusions, limits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taggers.labels import CHARACTER, GENERAL, RATING, Labels
from taggers.selection import (
    KAOMOJIS,
    SelectionOptions,
    display_name,
    mcut_threshold,
    select_tags,
)

NAMES = ("general", "sensitive", "questionable", "explicit")
LABELS = Labels(
    names=(*NAMES, "long_hair", "smile", ">_<", "red_eyes", "hatsune_miku", "rem_(re:zero)"),
    categories=np.array([RATING] * 4 + [GENERAL] * 4 + [CHARACTER] * 2, dtype=np.int8),
)
SCORES = np.array([0.1, 0.7, 0.15, 0.05, 0.9, 0.36, 0.35, 0.2, 0.86, 0.5], dtype=np.float32)


DEFAULTS = SelectionOptions()


def names(options: SelectionOptions = DEFAULTS, scores=SCORES) -> list[str]:
    return [tag.name for tag in select_tags(scores, LABELS, options)]


def test_reference_defaults_characters_first_then_general_by_score():
    # 0.35 is not above 0.35: the reference keeps scores strictly above.
    assert names() == ["hatsune miku", "long hair", "smile"]
    tags = select_tags(SCORES, LABELS, SelectionOptions())
    assert [t.category for t in tags] == ["character", "general", "general"]
    assert tags[1].confidence == pytest.approx(0.9)


def test_thresholds_per_category():
    options = SelectionOptions(general_threshold=0.1, character_threshold=0.4)
    assert names(options) == [
        "hatsune miku",
        "rem (re:zero)",
        "long hair",
        "smile",
        ">_<",
        "red eyes",
    ]


def test_rating_as_a_tag_is_the_best_rating_first():
    assert names(SelectionOptions(include_rating=True))[0] == "sensitive"
    assert "sensitive" not in names()


def test_kaomoji_keep_their_underscores():
    assert ">_<" in names(SelectionOptions(general_threshold=0.3))
    assert display_name("^_^") == "^_^" and display_name("long_hair") == "long hair"
    assert names(SelectionOptions(replace_underscores=False))[:2] == ["hatsune_miku", "long_hair"]


def test_exclusions_match_either_spelling_in_any_case():
    assert names(SelectionOptions(exclude=frozenset({"Long Hair", "hatsune_miku"}))) == ["smile"]
    rating = SelectionOptions(include_rating=True, exclude=frozenset({"sensitive"}))
    assert "sensitive" not in names(rating)


def test_max_tags_keeps_the_highest_scores_in_caption_order():
    options = SelectionOptions(general_threshold=0.1, character_threshold=0.4, max_tags=3)
    # The three best are long hair (0.9), miku (0.86) and rem (0.5); smile (0.36) goes.
    assert names(options) == ["hatsune miku", "rem (re:zero)", "long hair"]


def test_mcut_cuts_at_the_largest_gap():
    assert mcut_threshold(np.array([0.9, 0.85, 0.2, 0.1])) == pytest.approx(0.525)
    assert names(SelectionOptions(general_mcut=True))[1:] == ["long hair"]


def test_character_mcut_never_goes_below_the_floor():
    scores = SCORES.copy()
    scores[8:] = [0.12, 0.01]
    assert "hatsune miku" not in names(SelectionOptions(character_mcut=True), scores)


def test_the_kaomoji_list_is_the_reference_list():
    assert len(KAOMOJIS) == 19 and {"0_0", "(o)_(o)", "||_||", "<|>_<|>"} <= KAOMOJIS


def random_labels(draw, size):
    categories = draw(
        st.lists(st.sampled_from([RATING, GENERAL, CHARACTER]), min_size=size, max_size=size)
    )
    return Labels(
        names=tuple(f"tag_{i}" for i in range(size)), categories=np.array(categories, np.int8)
    )


@st.composite
def scored(draw):
    size = draw(st.integers(1, 40))
    labels = random_labels(draw, size)
    scores = np.array(
        draw(st.lists(st.floats(0, 1, width=32), min_size=size, max_size=size)), np.float32
    )
    return labels, scores


options_strategy = st.builds(
    SelectionOptions,
    general_threshold=st.floats(0, 1),
    character_threshold=st.floats(0, 1),
    general_mcut=st.booleans(),
    character_mcut=st.booleans(),
    include_rating=st.booleans(),
    max_tags=st.none() | st.integers(0, 10),
)


@settings(max_examples=200, deadline=None)
@given(case=scored(), options=options_strategy)
def test_selected_tags_are_distinct_known_and_within_the_limit(case, options):
    labels, scores = case
    tags = select_tags(scores, labels, options)
    chosen = [tag.name for tag in tags]
    assert len(chosen) == len(set(chosen))
    assert set(chosen) <= {display_name(n) for n in labels.names}
    non_rating = [t for t in tags if t.category != "rating"]
    if options.max_tags is not None:
        assert len(non_rating) <= options.max_tags
    assert sum(t.category == "rating" for t in tags) == (
        1 if options.include_rating and (labels.categories == RATING).any() else 0
    )
    if not options.general_mcut:
        assert all(
            t.confidence > options.general_threshold for t in tags if t.category == "general"
        )


@settings(max_examples=200, deadline=None)
@given(case=scored(), low=st.floats(0, 1), high=st.floats(0, 1))
def test_a_higher_threshold_never_adds_a_tag(case, low, high):
    labels, scores = case
    low, high = sorted((low, high))
    loose = set(
        names_of(labels, scores, SelectionOptions(general_threshold=low, character_threshold=low))
    )
    strict = set(
        names_of(labels, scores, SelectionOptions(general_threshold=high, character_threshold=high))
    )
    assert strict <= loose


@settings(max_examples=200, deadline=None)
@given(case=scored(), limit=st.integers(0, 40))
def test_max_tags_keeps_a_top_scoring_subset(case, limit):
    labels, scores = case
    everything = select_tags(
        scores, labels, SelectionOptions(general_threshold=0, character_threshold=0)
    )
    limited = select_tags(
        scores, labels, SelectionOptions(general_threshold=0, character_threshold=0, max_tags=limit)
    )
    assert {t.name for t in limited} <= {t.name for t in everything}
    dropped = [t.confidence for t in everything if t not in limited]
    assert not dropped or not limited or min(t.confidence for t in limited) >= max(dropped)


@settings(max_examples=200, deadline=None)
@given(case=scored(), excluded=st.sets(st.integers(0, 39)))
def test_excluded_tags_never_appear(case, excluded):
    labels, scores = case
    names_out = {f"tag {i}" for i in excluded}
    options = SelectionOptions(
        general_threshold=0,
        character_threshold=0,
        include_rating=True,
        exclude=frozenset(names_out),
    )
    assert not {t.name for t in select_tags(scores, labels, options)} & names_out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=50))
def test_mcut_lies_inside_the_largest_gap(values):
    probabilities = np.array(values)
    threshold = mcut_threshold(probabilities)
    ordered = np.sort(probabilities)[::-1]
    gaps = ordered[:-1] - ordered[1:]
    cut = gaps.argmax()
    assert ordered[cut + 1] <= threshold <= ordered[cut]


def names_of(labels, scores, options):
    return [t.name for t in select_tags(scores, labels, options)]
