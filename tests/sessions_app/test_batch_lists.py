"""Batch operations on whole tag lists: add at the front, sort, clear (BooruDatasetTagManager's).

Each goes through batch_apply, as add, remove and replace do: one event, the
versions moved, the tag counts kept true, and one undo that puts every list back.
"""

import pytest

from sessions_app import services
from sessions_app.models import SessionEvent, SessionImage, SessionImageTag
from sessions_app.rules import TagRules
from sessions_app.services.rules import rules_apply
from sessions_app.services.undo import operation_undo
from tagger_project.errors import InvalidInput
from tags.models import Tag
from tags.services import implication_create
from tests.sessions_app.test_batch import count_of, ids, real_count, tag_names


@pytest.fixture
def tagged(session, session_images, bob):
    first, second, _third = session_images
    services.tags_add(session, first.pk, actor=bob, names=["smile", "cat", "outdoors"])
    services.tags_add(session, second.pk, actor=bob, names=["ohwx", "dog", "blue sky"])
    return session_images


def versions(images) -> list[int]:
    # The session image's version: each session's list moves its own.
    return [SessionImage.objects.get(image=image).version for image in images]


def test_add_at_the_front_puts_new_tags_first_in_the_order_given(session, tagged, bob):
    first, second, third = tagged
    outcome = services.batch_apply(
        session, actor=bob, image_ids=ids(tagged), add=["ohwx", "solo"], add_front=True
    )
    assert tag_names(first) == ["ohwx", "solo", "smile", "cat", "outdoors"]
    # "Skip existing", as BooruDatasetTagManager does by default: ohwx stays where it was.
    assert tag_names(second) == ["solo", "ohwx", "dog", "blue sky"]
    assert tag_names(third) == ["ohwx", "solo"]
    assert outcome.value.changed == 3
    assert count_of("ohwx") == real_count("ohwx") == 3
    event = SessionEvent.objects.get(session=session, seq=outcome.seq)
    assert event.payload["add_front"] is True and event.payload["add"] == ["ohwx", "solo"]


def test_implied_tags_of_a_front_addition_go_to_the_end(session, tagged, bob):
    implication_create(Tag.objects.create(name="cat ears"), implied=Tag.objects.create(name="ears"))
    services.batch_apply(
        session, actor=bob, image_ids=ids(tagged[:1]), add=["cat ears"], add_front=True
    )
    assert tag_names(tagged[0]) == ["cat ears", "smile", "cat", "outdoors", "ears"]


def test_sort_orders_each_list_by_name_and_counts_only_what_moved(session, tagged, bob):
    first, second, _third = tagged
    services.batch_apply(session, actor=bob, image_ids=ids(tagged[1:2]), sort=True)
    before = versions(tagged)
    outcome = services.batch_apply(session, actor=bob, image_ids=ids(tagged), sort=True)
    assert tag_names(first) == ["cat", "outdoors", "smile"]
    assert tag_names(second) == ["blue sky", "dog", "ohwx"]
    assert outcome.value.changed_image_ids == [
        first.pk
    ]  # second was sorted already, third is empty
    assert versions(tagged) == [before[0] + 1, before[1], before[2]]
    assert count_of("cat") == real_count("cat") == 1


def test_sort_can_keep_the_first_tags_in_place(session, tagged, bob):
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), sort=True, keep_first=1)
    assert tag_names(tagged[0]) == ["smile", "cat", "outdoors"]
    assert tag_names(tagged[1]) == ["ohwx", "blue sky", "dog"]


def test_sort_keeps_the_sessions_pinned_tags_first(session, tagged, alice, bob):
    rules_apply(session, actor=alice, rules=TagRules(pinned=("smile",)))
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), add=["zebra"], sort=True)
    assert tag_names(tagged[0]) == ["smile", "cat", "outdoors", "zebra"]


def test_clear_removes_every_tag_and_clear_with_add_sets_the_list(session, tagged, bob):
    first, second, _third = tagged
    outcome = services.batch_apply(session, actor=bob, image_ids=ids(tagged[:1]), clear=True)
    assert tag_names(first) == [] and outcome.value.changed_image_ids == [first.pk]
    assert count_of("cat") == real_count("cat") == 0
    services.batch_apply(session, actor=bob, image_ids=ids(tagged[1:2]), clear=True, add=["x", "y"])
    assert tag_names(second) == ["x", "y"]
    assert count_of("dog") == real_count("dog") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"add": ["solo", "ohwx"], "add_front": True},
        {"sort": True},
        {"sort": True, "keep_first": 2, "add": ["aaa"]},
        {"clear": True},
        {"clear": True, "add": ["only"]},
    ],
    ids=["front", "sort", "sort-keep", "clear", "clear-add"],
)
def test_one_undo_puts_every_list_back(session, tagged, alice, bob, change):
    lists = [tag_names(image) for image in tagged]
    counts = {tag.name: tag.image_count for tag in Tag.objects.all()}
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), **change)
    assert [tag_names(image) for image in tagged] != lists
    operation_undo(session, actor=bob)
    assert [tag_names(image) for image in tagged] == lists
    for name, count in counts.items():
        assert count_of(name) == real_count(name) == count, name


def test_front_and_sort_under_a_category_order_undo_too(session, tagged, alice, bob):
    Tag.objects.filter(name="dog").update(category="character")
    rules_apply(session, actor=alice, rules=TagRules(category_order=("character", "general")))
    lists = [tag_names(image) for image in tagged]
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), add=["zz"], add_front=True)
    assert tag_names(tagged[1]) == ["dog", "zz", "ohwx", "blue sky"]
    operation_undo(session, actor=bob)
    assert [tag_names(image) for image in tagged] == lists


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"add_front": True}, "add_front needs tags to add"),
        ({"sort": True, "keep_first": -1}, "keep_first must be between"),
        ({"sort": True, "keep_first": 1001}, "keep_first must be between"),
        ({"keep_first": 2, "add": ["x"]}, "keep_first applies to a sort"),
        ({}, "a batch needs something"),
    ],
)
def test_bad_arrangements_are_refused_and_change_nothing(session, tagged, bob, change, message):
    rows = list(
        SessionImageTag.objects.order_by("id").values_list("entry_id", "tag_id", "position")
    )
    session.refresh_from_db()
    seq = session.last_seq
    with pytest.raises(InvalidInput, match=message):
        services.batch_apply(session, actor=bob, image_ids=ids(tagged), **change)
    assert (
        list(SessionImageTag.objects.order_by("id").values_list("entry_id", "tag_id", "position"))
        == rows
    )
    session.refresh_from_db()
    assert session.last_seq == seq


def test_a_tag_list_never_holds_a_tag_twice(session, tagged, bob):
    """BooruDatasetTagManager's "remove duplicates" has nothing to find here: the spellings
    that make duplicates in caption files (case, underscores, escapes, weights, aliases) are
    one tag, and adding a tag an image has adds nothing."""
    from tags.services import alias_create

    alias_create(Tag.objects.get(name="cat"), name="kitty")
    services.tags_add(
        session, tagged[0].pk, actor=bob, names=["Cat", "cat", "(cat:1.2)", "kitty", "CAT"]
    )
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), add=["cat"], add_front=True)
    services.batch_apply(session, actor=bob, image_ids=ids(tagged), add=["c\\(a\\)t", "c(a)t"])
    for image in tagged:
        names = tag_names(image)
        assert len(names) == len(set(names)), names
    assert tag_names(tagged[0]).count("cat") == 1


def test_the_api_adds_at_the_front_sorts_and_clears(session, tagged, as_, bob, carol):
    path = f"/sessions/{session.pk}/batch"
    every = {"image_ids": ids(tagged)}
    body = as_(bob).post(path, {"selection": every, "add": ["ohwx"], "add_front": True}).json()
    assert body["changed"] == 2 and tag_names(tagged[0])[0] == "ohwx"
    body = as_(bob).post(path, {"selection": every, "sort": True, "keep_first": 1}).json()
    assert tag_names(tagged[0]) == ["ohwx", "cat", "outdoors", "smile"]
    query = {"q": "dog"}
    body = as_(bob).post(path, {"selection": query, "clear": True}).json()
    assert (body["changed"], body["selected"]) == (1, 1) and tag_names(tagged[1]) == []
    event = SessionEvent.objects.get(session=session, seq=body["seq"])
    assert (event.kind, event.payload["clear"]) == ("batch.applied", True)
    assert as_(carol).post(path, {"selection": every, "clear": True}).status_code == 403
    for bad in ({"sort": True, "keep_first": -1}, {"sort": "yes please"}, {"add_front": True}):
        before = SessionEvent.objects.count()
        answer = as_(bob).post(path, {"selection": every, **bad})
        assert answer.status_code in (400, 422), bad
        assert SessionEvent.objects.count() == before
