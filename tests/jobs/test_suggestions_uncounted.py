"""A tagger's suggestions are not in the caption: only their own query terms see them, and no
count (sidebar, autocomplete) holds them."""

import pytest

from sessions_app import services as session_services
from sessions_app.models import SessionImage, SessionImageTag
from sessions_app.selectors import images_for_session, session_image_ids, session_tag_counts
from sessions_app.services.curation import tag_merge
from sessions_app.services.undo import operation_redo, operation_undo
from tags.models import Tag, TagSource
from tags.services import tags_get_or_create
from tests.jobs.test_autotag import run_job
from tests.support.api import ApiClient


def tags_get(names: list[str]) -> Tag:
    (tag,) = tags_get_or_create(names).values()
    return tag


pytestmark = pytest.mark.django_db(transaction=True)


def suggested_names(session, image) -> set[str]:
    return set(
        SessionImageTag.objects.filter(
            entry__session=session, entry__image=image, source=TagSource.SUGGESTION
        ).values_list("tag__name", flat=True)
    )


@pytest.fixture
def only_suggested(session, alice, stored):
    """stored[2] carries only suggestions (no general tag reaches the accept threshold)."""
    image = stored[2]
    characters = [f"character_{i}_(series)" for i in range(3)]
    run_job(
        session,
        alice,
        [image.pk],
        general_threshold=0.9,
        suggest_threshold=0.3,
        exclude=characters,
    )
    names = suggested_names(session, image)
    assert names
    return image, sorted(names)


def test_a_suggested_tag_is_not_matched_by_its_name(session, only_suggested):
    image, names = only_suggested
    name = names[0]
    assert image.pk not in session_image_ids(session, query=f'"{name}"')
    assert image.pk in session_image_ids(session, query=f'-"{name}"')
    assert image.pk not in session_image_ids(session, query=f"{name[:2]}*")
    # Inside an AND the rarest tag is read from its list: that read too.
    assert image.pk not in session_image_ids(session, query=f'"{name}", status:todo')
    page, _ = images_for_session(session, query=f'"{name}"', cursor=None, limit=10)
    assert page == []


def test_an_image_with_only_suggestions_is_untagged(session, only_suggested):
    image, _ = only_suggested
    assert image.pk in session_image_ids(session, query="untagged")
    assert image.pk in session_image_ids(session, query="tags:0")
    assert image.pk not in session_image_ids(session, query="tags:>=1")


def test_has_suggestions_finds_the_images_awaiting_review(session, alice, stored, only_suggested):
    image, _ = only_suggested
    assert session_image_ids(session, query="has:suggestions") == [image.pk]
    assert session_image_ids(session, query="source:suggestion") == [image.pk]
    assert image.pk not in session_image_ids(session, query="-has:suggestions")
    session_services.batch_apply(
        session, actor=alice, image_ids=[image.pk], drop_source=TagSource.SUGGESTION
    )
    assert session_image_ids(session, query="has:suggestions") == []


def test_the_sidebar_counts_leave_suggestions_out(session, alice, only_suggested):
    image, names = only_suggested
    assert session_tag_counts(session, limit=500) == []
    session_services.batch_apply(
        session, actor=alice, image_ids=[image.pk], accept_source=TagSource.SUGGESTION
    )
    session.refresh_from_db()  # the counts are cached per last_seq
    counted = {row["name"]: row["count"] for row in session_tag_counts(session, limit=500)}
    assert counted == dict.fromkeys(names, 1)
    assert image.pk in session_image_ids(session, query=f'"{names[0]}"')


def counts_are_true() -> bool:
    return all(
        tag.image_count == tag.entry_tags.exclude(source=TagSource.SUGGESTION).count()
        for tag in Tag.objects.all()
    )


def completed(user, name: str) -> int:
    """The image count autocomplete gives the tag."""
    (item,) = [
        item
        for item in ApiClient(user).get("/tags", prefix=name, limit=50).json()["items"]
        if item["name"] == name
    ]
    return item["image_count"]


def test_autocomplete_counts_a_suggestion_only_once_accepted(session, alice, stored):
    ids = [image.pk for image in stored]
    characters = [f"character_{i}_(series)" for i in range(3)]
    run_job(session, alice, ids, general_threshold=0.6, suggest_threshold=0.3, exclude=characters)
    # Accepted on stored[2] and stored[5], suggested on stored[1] and stored[4].
    name = "general tag 4"
    assert suggested_names(session, stored[1]) == suggested_names(session, stored[4]) == {name}
    assert counts_are_true() and completed(alice, name) == 2
    steps = [
        lambda: session_services.batch_apply(
            session, actor=alice, image_ids=ids, accept_source=TagSource.SUGGESTION
        ),
        lambda: operation_undo(session, actor=alice),
        lambda: operation_redo(session, actor=alice),
        lambda: session_services.batch_apply(session, actor=alice, image_ids=ids, remove=[name]),
        lambda: operation_undo(session, actor=alice),
        lambda: session_services.batch_apply(
            session, actor=alice, image_ids=ids, replace=(name, "pose")
        ),
        lambda: operation_undo(session, actor=alice),
        lambda: operation_undo(session, actor=alice),  # the accept: suggestions again
        lambda: session_services.tags_set(
            session,
            stored[1].pk,
            actor=alice,
            names=["hand drawn"],
            version=SessionImage.objects.get(session=session, image=stored[1]).version,
        ),
        lambda: operation_undo(session, actor=alice),
        lambda: session_services.batch_apply(
            session, actor=alice, image_ids=ids, drop_source=TagSource.SUGGESTION
        ),
        lambda: operation_undo(session, actor=alice),
        lambda: tag_merge(Tag.objects.get(name=name), actor=alice, into=tags_get(["pose"])).value,
    ]
    want = [4, 2, 4, 0, 4, 0, 4, 2, 2, 2, 2, 2, None]
    for step, count in zip(steps, want, strict=True):
        step()
        assert counts_are_true()
        if count is not None:
            assert completed(alice, name) == count
    assert completed(alice, "pose") == 2
