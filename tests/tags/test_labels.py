"""tags.labels: the per-process names and categories, and the triggers that keep them true.

These tests run outside a test transaction (transaction=True): inside one,
the cache is bypassed on purpose.
"""

import pytest
from django.db import connection, transaction

from sessions_app import selectors, services
from tags.labels import GENERATION_TABLE, current_vocabulary, load_vocabulary
from tags.models import Tag
from tags.services import tag_categories_set, tag_set_category
from tests.support.images import make_image

pytestmark = pytest.mark.django_db(transaction=True)


def tag_labels(tag_ids):
    return current_vocabulary().labels(tag_ids)


def generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {GENERATION_TABLE}")
        return cursor.fetchone()[0]


def page_tags(session) -> list[list[tuple[str, str]]]:
    items, _ = selectors.images_for_session(session, query=None, cursor=None, limit=50)
    return [[(tag["name"], tag["category"]) for tag in item["tags"]] for item in items]


def test_the_triggers_exist():
    """Django remakes a SQLite table for some schema changes, dropping its triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tags_tag'::regclass"
                " AND NOT tgisinternal"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"tags_tag_relabelled", "tags_tag_deleted"} <= names


def test_a_rename_by_any_writer_is_seen():
    cat = Tag.objects.create(name="cat")
    assert tag_labels([cat.pk])[cat.pk] == ("cat", "general")
    # Not through a service: the trigger, not the writer, moves the counter.
    Tag.objects.filter(pk=cat.pk).update(name="kitty")
    assert tag_labels([cat.pk])[cat.pk] == ("kitty", "general")


def test_category_changes_are_seen():
    cat, dog = Tag.objects.create(name="cat"), Tag.objects.create(name="dog")
    assert tag_labels([cat.pk, dog.pk])[dog.pk] == ("dog", "general")
    tag_set_category(cat, category="artist")
    tag_categories_set({"dog": "character"})
    labels = tag_labels([cat.pk, dog.pk])
    assert (labels[cat.pk], labels[dog.pk]) == (("cat", "artist"), ("dog", "character"))


def test_only_names_categories_and_deletes_move_the_counter():
    cat = Tag.objects.create(name="cat")
    before = generation()
    Tag.objects.filter(pk=cat.pk).update(image_count=7, popularity=3)
    Tag.objects.create(name="dog")
    assert generation() == before
    if connection.vendor == "sqlite":  # PostgreSQL counts statements, not changed rows
        Tag.objects.filter(pk=cat.pk).update(category="general")
        assert generation() == before
    Tag.objects.filter(pk=cat.pk).delete()
    assert generation() > before


def test_a_rolled_back_rename_is_never_shown():
    """Read inside the transaction, the name must not be kept: after the rollback
    another change can bring the counter back to the same value."""
    cat = Tag.objects.create(name="cat")
    tag_labels([cat.pk])
    with pytest.raises(RuntimeError), transaction.atomic():
        Tag.objects.filter(pk=cat.pk).update(name="draft")
        assert tag_labels([cat.pk])[cat.pk] == ("draft", "general")
        raise RuntimeError("roll back")
    Tag.objects.filter(pk=cat.pk).update(name="final")
    assert tag_labels([cat.pk])[cat.pk] == ("final", "general")


def test_pages_show_renames_and_categories(session, bob):
    image = make_image(name="a.png")
    services.session_images_add(session, actor=bob, images=[image])
    services.tags_add(session, image.pk, actor=bob, names=["kity", "smile"])
    assert page_tags(session) == [[("kity", "general"), ("smile", "general")]]
    services.tag_rename(Tag.objects.get(name="kity"), actor=bob, new_name="kitty")
    tag_set_category(Tag.objects.get(name="smile"), category="meta")
    assert page_tags(session) == [[("kitty", "general"), ("smile", "meta")]]


def test_a_merge_between_the_two_reads_shows_the_merged_tag(session, bob):
    """The page reads its tag rows, then the labels. A merge committed in between
    leaves a row whose tag is gone: the page reads its tags again, joined."""
    image = make_image(name="a.png")
    services.session_images_add(session, actor=bob, images=[image])
    services.tags_add(session, image.pk, actor=bob, names=["kitty", "smile"])
    kitty, cat = Tag.objects.get(name="kitty"), Tag.objects.create(name="cat")
    merged = []

    def merge_before_the_labels(execute, sql, params, many, context):
        # The fetch of the labels the page lacks, after its rows were read.
        if sql.startswith("SELECT id, name, category FROM") and not merged:
            merged.append(True)
            services.tag_merge(kitty, actor=bob, into=cat)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(merge_before_the_labels):
        assert page_tags(session) == [[("cat", "general"), ("smile", "general")]]
    assert merged


def test_labels_of_a_tag_gone_since_its_id_was_read_are_none():
    cat = Tag.objects.create(name="cat")
    gone = Tag.objects.create(name="gone")
    gone_id = gone.pk
    gone.delete()
    assert tag_labels([cat.pk, gone_id]) is None
    assert tag_labels([cat.pk])[cat.pk] == ("cat", "general")


def test_a_worker_loads_every_label_at_start_and_still_sees_renames(django_assert_num_queries):
    cat, dog = Tag.objects.create(name="cat"), Tag.objects.create(name="dog")
    load_vocabulary()
    with django_assert_num_queries(1):  # the counter; no label is fetched
        assert tag_labels({cat.pk, dog.pk})[dog.pk] == ("dog", "general")
    Tag.objects.filter(pk=cat.pk).update(name="kitty")
    assert tag_labels({cat.pk})[cat.pk] == ("kitty", "general")


def test_session_tag_counts_follow_category_changes(session, bob):
    """Cached per session seq, which a category change does not move."""
    image = make_image(name="a.png")
    services.session_images_add(session, actor=bob, images=[image])
    services.tags_add(session, image.pk, actor=bob, names=["smile"])
    session.refresh_from_db()
    assert selectors.session_tag_counts(session, limit=10)[0]["category"] == "general"
    tag_set_category(Tag.objects.get(name="smile"), category="meta")
    session.refresh_from_db()
    assert selectors.session_tag_counts(session, limit=10)[0]["category"] == "meta"
