"""Autocomplete answers exactly what a brute-force ranking of every name and alias gives.

tags.autocomplete reads through several plans (prefix ranges, rank-index
walks, a walk cut off at the tags' threshold, the word-start range); each must
agree with the plain definition: every tag whose name or one of whose aliases
starts with the prefix, ranked by image count, popularity, name; then, while
there is room, every other tag where a word of its name or of an alias does
(a word starts after any character that is not an ASCII letter, and is not a
space), ranked the same way. The caps that choose the plans are set low here
so that tiny vocabularies take every plan.
"""

import string

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tags import autocomplete
from tags.autocomplete import tags_complete
from tags.models import Tag, TagAlias, TagCategory, TagWord

# Few letters, so that names share prefixes and ties in counts are common; "(" and
# "1" are word boundaries that are not spaces.
names = st.text(alphabet="ab c(1", min_size=1, max_size=5).map(str.strip).filter(bool)
vocabularies = st.lists(
    st.tuples(
        names,
        st.sampled_from([0, 0, 1, 2, 5]),  # image_count
        st.sampled_from([0, 0, 3, 7]),  # popularity
        st.sampled_from([TagCategory.GENERAL, TagCategory.CHARACTER]),
        st.lists(names, max_size=3),  # aliases
    ),
    max_size=25,
    unique_by=lambda tag: tag[0],
)
requests = st.tuples(
    st.text(alphabet="ab c(1", max_size=3),
    st.sampled_from([None, TagCategory.GENERAL, TagCategory.CHARACTER]),
    st.integers(min_value=1, max_value=6),
)


def word_starts(name: str) -> list[str]:
    return [
        name[i:]
        for i in range(1, len(name))
        if name[i - 1] not in string.ascii_letters and name[i] != " "
    ]


def has_word_start(name: str, prefix: str) -> bool:
    return any(word.startswith(prefix) for word in word_starts(name))


def brute_force(vocabulary, prefix: str, category: str | None, limit: int) -> list[dict]:
    """The definition: prefix matches, then word starts; own name first, else the first
    matching alias; ranked; cut at limit."""
    answer = []
    for name, image_count, popularity, category_, aliases in vocabulary:
        if category and category_ != category:
            continue
        kinds = [str.startswith] + ([has_word_start] if prefix else [])
        for kind, matches in enumerate(kinds):
            matching = sorted(alias for alias in aliases if matches(alias, prefix))
            if matches(name, prefix) or matching:
                alias = None if matches(name, prefix) else matching[0]
                answer.append((kind, -image_count, -popularity, name, category_, alias))
                break
    answer.sort()
    return [
        {"name": name, "category": category_, "image_count": -count, "alias": alias}
        for _, count, _, name, category_, alias in answer[:limit]
    ]


def store(vocabulary) -> list:
    """Save the vocabulary; an alias already taken (by a tag or another alias) is dropped."""
    taken = {name for name, *_ in vocabulary}
    kept = []
    for name, image_count, popularity, category, aliases in vocabulary:
        tag = Tag.objects.create(
            name=name, image_count=image_count, popularity=popularity, category=category
        )
        own = [alias for alias in dict.fromkeys(aliases) if alias not in taken]
        taken.update(own)
        TagAlias.objects.bulk_create(TagAlias(name=alias, tag=tag) for alias in own)
        kept.append((name, image_count, popularity, category, own))
    return kept


@pytest.mark.parametrize(
    ("range_cap", "walk_cap"),
    [(autocomplete.RANGE_CAP, autocomplete.WALK_CAP), (1, 1000), (1, 2), (2, 0)],
    ids=["defaults", "alias-walk", "short-walk", "no-walk"],
)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(vocabulary=vocabularies, request_=requests)
def test_autocomplete_matches_the_brute_force_ranking(
    db, monkeypatch, range_cap, walk_cap, vocabulary, request_
) -> None:
    monkeypatch.setattr(autocomplete, "RANGE_CAP", range_cap)
    monkeypatch.setattr(autocomplete, "WALK_CAP", walk_cap)
    prefix, category, limit = request_
    with transaction.atomic():
        kept = store(vocabulary)
        found = tags_complete(prefix=prefix, category=category, limit=limit)
        transaction.set_rollback(True)
    assert found == brute_force(kept, prefix, category, limit)


def test_the_alias_walk_stops_at_the_names_last_match(db, monkeypatch) -> None:
    """Aliases of tags used more than, or as often as and ranked above, the names' last
    match are found by the walk; one ranked below it is not needed."""
    monkeypatch.setattr(autocomplete, "RANGE_CAP", 1)
    Tag.objects.bulk_create(Tag(name=f"bo{n}", image_count=10 + n) for n in range(5))
    aliases = {"bobcat": ("cat", 100, 0), "boant": ("ant", 12, 5), "bowwow": ("dog", 1, 0)}
    for alias, (name, image_count, popularity) in aliases.items():
        tag = Tag.objects.create(name=name, image_count=image_count, popularity=popularity)
        TagAlias.objects.create(name=alias, tag=tag)
    found = tags_complete(prefix="bo", category=None, limit=3)
    assert [(t["name"], t["alias"]) for t in found] == [
        ("cat", "bobcat"),
        ("bo4", None),
        ("bo3", None),
    ]
    TagAlias.objects.filter(name="bobcat").delete()
    found = tags_complete(prefix="bo", category=None, limit=3)
    # ant is used as often as bo2, the names' third match, but is more popular.
    assert [t["name"] for t in found] == ["bo4", "bo3", "ant"]
    found = tags_complete(prefix="bo", category=None, limit=10)
    assert [t["name"] for t in found] == ["bo4", "bo3", "ant", "bo2", "bo1", "bo0", "dog"]


def test_word_starts_are_matched_after_prefixes(db) -> None:
    """tagcomplete users expect `hair` → `long hair` and `long_h` → `very long hair`."""
    Tag.objects.bulk_create(
        [
            Tag(name="long hair", image_count=0, popularity=4_000_000),
            Tag(name="very long hair", image_count=0, popularity=900_000),
            Tag(name="hair ornament", image_count=0, popularity=10),
            Tag(name="chair", image_count=5, popularity=0),
        ]
    )
    found = tags_complete(prefix="hair", category=None, limit=5)
    assert [t["name"] for t in found] == ["hair ornament", "long hair", "very long hair"]
    found = tags_complete(prefix="long h", category=None, limit=5)  # the API normalizes long_h
    assert [t["name"] for t in found] == ["long hair", "very long hair"]


def test_a_word_of_an_alias_answers_its_tag(db) -> None:
    tag = Tag.objects.create(name="hatsune miku", popularity=5)
    TagAlias.objects.create(name="miku (vocaloid)", tag=tag)
    found = tags_complete(prefix="vocal", category=None, limit=5)
    assert found == [
        {
            "name": "hatsune miku",
            "category": "general",
            "image_count": 0,
            "alias": "miku (vocaloid)",
        }
    ]


def test_the_triggers_keep_word_starts_through_renames_and_deletes(db) -> None:
    """Django remakes a SQLite table for some schema changes, dropping its triggers."""
    tag = Tag.objects.create(name="long hair")
    alias = TagAlias.objects.create(name="hair long", tag=tag)
    words = lambda: sorted(TagWord.objects.values_list("word", "alias_id"))  # noqa: E731
    assert words() == [("hair", None), ("long", alias.pk)]
    Tag.objects.filter(pk=tag.pk).update(name="longest (hair)")
    TagAlias.objects.filter(pk=alias.pk).update(name="hair 2")
    assert words() == [("(hair)", None), ("2", alias.pk), ("hair)", None)]
    tag.delete()
    assert words() == []
