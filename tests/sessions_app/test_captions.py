"""sessions_app.captions: images' tags kept per process by version, and every writer moving it.

Outside a test transaction (transaction=True): inside one, nothing is kept.
Each edit below goes through the service the API, the consumer and the
commands call; the cache must answer what the database holds afterwards.
"""

import pytest
from django.db import transaction

from datasets.services import tags_restore
from images.models import Image
from sessions_app import services
from sessions_app.captions import image_captions
from sessions_app.models import SessionImage, SessionImageTag
from sessions_app.rules import rules_from_input
from sessions_app.services.rules import rules_apply
from sessions_app.services.undo import operation_redo, operation_undo
from tags.models import Tag
from tags.services import tag_set_category
from tests.support.images import make_image

pytestmark = pytest.mark.django_db(transaction=True)


def entry_of(image: Image, session=None) -> SessionImage:
    """The image's session image (in `session`, else the only session holding it)."""
    entries = SessionImage.objects.filter(image=image)
    return entries.get(session=session) if session is not None else entries.get()


def truth(image: Image, session=None) -> tuple[int, list[dict]]:
    """What the database holds, read without the cache."""
    entry = entry_of(image, session)
    rows = SessionImageTag.objects.filter(entry=entry).order_by("position", "id")
    tags = rows.values_list("tag__name", "tag__category", "source")
    return entry.version, [{"name": n, "category": c, "source": s} for n, c, s in tags]


def cached(image: Image, session=None) -> tuple[int, list[dict]]:
    entry = entry_of(image, session)
    return image_captions([(entry.pk, entry.version)])[entry.pk]


@pytest.fixture
def pair(session, bob):
    images = [make_image(color=(i, 9, 9), name=f"p{i}.png") for i in range(2)]
    services.session_images_add(session, actor=bob, images=images)
    services.tags_add(session, images[0].pk, actor=bob, names=["kitty", "smile", "blurry"])
    services.tags_add(session, images[1].pk, actor=bob, names=["smile"])
    return images


def tag(name: str) -> Tag:
    return Tag.objects.get(name=name)


EDITS = {
    "add": lambda s, u, a, b: services.tags_add(s, a.pk, actor=u, names=["tree"]),
    "remove": lambda s, u, a, b: services.tags_remove(s, a.pk, actor=u, names=["smile"]),
    "set": lambda s, u, a, b: services.tags_set(
        s,
        a.pk,
        actor=u,
        names=["blurry", "kitty"],
        version=entry_of(a).version,
    ),
    "batch add": lambda s, u, a, b: services.batch_apply(
        s, actor=u, image_ids=[a.pk, b.pk], add=["tree"]
    ),
    "batch remove": lambda s, u, a, b: services.batch_apply(
        s, actor=u, image_ids=[a.pk, b.pk], remove=["smile"]
    ),
    "batch replace": lambda s, u, a, b: services.batch_apply(
        s, actor=u, image_ids=[a.pk, b.pk], replace=("smile", "grin")
    ),
    "merge": lambda s, u, a, b: services.tag_merge(tag("kitty"), actor=u, into=tag("smile")).value,
    "rename": lambda s, u, a, b: services.tag_rename(tag("kitty"), actor=u, new_name="cat").value,
    "category": lambda s, u, a, b: tag_set_category(tag("smile"), category="meta"),
    "rules": lambda s, u, a, b: rules_apply(
        s, actor=u, rules=rules_from_input(blacklist=["blurry"], pinned=["smile"])
    ),
    "undo": lambda s, u, a, b: operation_undo(s, actor=u),
    "restore": lambda s, u, a, b: (
        tags_restore(
            s, a.pk, actor=u, entries=[("tree", "caption", None), ("kitty", "caption", None)]
        ).value
    ),
}


@pytest.mark.parametrize("edit", EDITS)
def test_every_edit_is_seen(session, pair, bob, edit):
    for image in pair:
        assert cached(image) == truth(image)
    EDITS[edit](session, bob, *pair)
    for image in pair:
        assert cached(image) == truth(image), edit


def test_an_undo_then_a_redo_are_seen(session, pair, bob):
    services.tags_remove(session, pair[0].pk, actor=bob, names=["kitty"])
    cached(pair[0])
    operation_undo(session, actor=bob)
    assert cached(pair[0]) == truth(pair[0])
    operation_redo(session, actor=bob)
    assert cached(pair[0]) == truth(pair[0])


def test_a_held_image_costs_only_the_vocabulary_read(pair, django_assert_num_queries):
    first = cached(pair[0])
    entry = entry_of(pair[0])
    with django_assert_num_queries(1):
        assert image_captions([(entry.pk, entry.version)])[entry.pk] == first


def test_an_older_version_is_read_again_and_answered_as_it_is_now(session, pair, bob):
    entry = entry_of(pair[0])
    services.tags_add(session, pair[0].pk, actor=bob, names=["tree"])
    # The caller read the image before the edit: the answer carries the version
    # its tags belong to, not the caller's.
    assert image_captions([(entry.pk, entry.version)])[entry.pk] == truth(pair[0])


def test_the_same_image_in_two_sessions_is_cached_per_session(session, pair, bob, dave):
    other = services.session_create(owner=dave, name="Other").value
    services.session_images_add(other, actor=dave, images=[pair[0]])
    services.tags_add(other, pair[0].pk, actor=dave, names=["tree"])
    assert cached(pair[0], session) == truth(pair[0], session)
    assert (
        cached(pair[0], other)
        == truth(pair[0], other)
        == (
            1,
            [{"name": "tree", "category": "general", "source": "manual"}],
        )
    )
    assert [t["name"] for t in cached(pair[0], session)[1]] == ["kitty", "smile", "blurry"]


def test_answers_are_copies(pair):
    cached(pair[0])
    _, tags = cached(pair[0])  # from the cache
    tags[0]["name"] = "changed by a caller"
    tags.append({"name": "x", "category": "general", "source": "manual"})
    assert cached(pair[0]) == truth(pair[0])


def test_untagged_and_deleted_images(session, bob):
    bare = make_image(name="bare.png")
    services.session_images_add(session, actor=bob, images=[bare])
    entry = entry_of(bare)
    assert image_captions([(entry.pk, 0), (10**9, 0)]) == {entry.pk: (0, [])}


def test_nothing_is_kept_from_inside_a_transaction(session, pair, bob):
    """An edit that rolls back leaves the version where it was; a later edit moves
    it to the same number with other tags."""
    with pytest.raises(RuntimeError), transaction.atomic():
        services.tags_add(session, pair[0].pk, actor=bob, names=["draft"])
        assert [t["name"] for t in cached(pair[0])[1]][-1] == "draft"
        raise RuntimeError("roll back")
    services.tags_add(session, pair[0].pk, actor=bob, names=["final"])
    assert cached(pair[0]) == truth(pair[0])


def test_entries_are_left_untracked_by_the_garbage_collector(pair):
    """Each full collection walks every tracked object: 20,000 entries holding
    dicts or lists made those pauses 5-10 ms inside page requests."""
    import gc

    from sessions_app import captions

    cached(pair[0])
    gc.collect()
    gc.collect()  # a tuple is left once the tuples inside it are
    entry = captions._state.images[entry_of(pair[0]).pk]
    assert entry[1] and not gc.is_tracked(entry)
