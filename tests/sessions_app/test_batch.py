import pytest
from django.utils import timezone

from sessions_app import services
from sessions_app.models import SessionEvent, SessionImage, SessionImageTag
from sessions_app.services.undo import operation_undo
from tagger_project.errors import InvalidInput
from tags.models import Tag, TagSource
from tags.services import implication_create
from tests.support.images import make_image


def tag_names(image) -> list[str]:
    rows = SessionImageTag.objects.filter(entry__image=image).order_by("position", "id")
    return list(rows.values_list("tag__name", flat=True))


def count_of(name: str) -> int:
    return Tag.objects.get(name=name).image_count


def real_count(name: str) -> int:
    return SessionImageTag.objects.filter(tag__name=name).count()


def ids(images) -> list[int]:
    return [image.pk for image in images]


def test_batch_add_appends_where_missing(session, session_images, bob):
    first, second, third = session_images
    services.tags_add(session, first.pk, actor=bob, names=["a", "b"])
    outcome = services.batch_apply(
        session, actor=bob, image_ids=ids(session_images), add=["b", "c"]
    )
    assert tag_names(first) == ["a", "b", "c"]
    assert tag_names(second) == ["b", "c"]
    assert tag_names(third) == ["b", "c"]
    assert outcome.value.changed == 3
    assert count_of("b") == real_count("b") == 3
    assert count_of("c") == real_count("c") == 3


def test_batch_add_bumps_versions_and_logs_one_event(session, session_images, bob):
    before = session.events.count()
    outcome = services.batch_apply(session, actor=bob, image_ids=ids(session_images[:2]), add=["x"])
    assert session.events.count() == before + 1
    event = SessionEvent.objects.get(session=session, seq=outcome.seq)
    assert event.kind == "batch.applied"
    assert event.payload["image_ids"] == sorted(ids(session_images[:2]))
    versions = dict(SessionImage.objects.filter(session=session).values_list("image", "version"))
    for image in session_images[:2]:
        assert versions[image.pk] == 1
    assert versions[session_images[2].pk] == 0


def test_batch_add_applies_implications(session, session_images, bob):
    implication_create(Tag.objects.create(name="cat ears"), implied=Tag.objects.create(name="ears"))
    services.batch_apply(session, actor=bob, image_ids=ids(session_images), add=["cat ears"])
    rows = SessionImageTag.objects.filter(entry__image=session_images[0]).order_by("position")
    assert [(row.tag.name, row.source) for row in rows] == [
        ("cat ears", TagSource.MANUAL),
        ("ears", TagSource.IMPLICATION),
    ]
    assert count_of("ears") == 3


def test_batch_remove(session, session_images, bob):
    for image in session_images:
        services.tags_add(session, image.pk, actor=bob, names=["a", "b", "c"])
    outcome = services.batch_apply(
        session, actor=bob, image_ids=ids(session_images[:2]), remove=["b"]
    )
    assert outcome.value.changed == 2
    assert tag_names(session_images[0]) == ["a", "c"]
    assert tag_names(session_images[2]) == ["a", "b", "c"]
    assert count_of("b") == real_count("b") == 1


def test_batch_replace_keeps_position_and_drops_duplicates(session, session_images, bob):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=bob, names=["a", "old", "c"])
    services.tags_add(session, second.pk, actor=bob, names=["new", "old"])
    outcome = services.batch_apply(
        session, actor=bob, image_ids=ids(session_images), replace=("old", "new")
    )
    assert outcome.value.changed == 2
    assert tag_names(first) == ["a", "new", "c"]
    assert tag_names(second) == ["new"]
    assert count_of("old") == real_count("old") == 0
    assert count_of("new") == real_count("new") == 2


def test_batch_ignores_images_outside_the_session(session, session_images, bob):
    outsider = make_image(name="elsewhere.png")
    outcome = services.batch_apply(session, actor=bob, image_ids=[outsider.pk], add=["x"])
    assert outcome.value.changed == 0
    assert tag_names(outsider) == []


def test_batch_without_changes_is_refused(session, session_images, bob):
    with pytest.raises(InvalidInput):
        services.batch_apply(session, actor=bob, image_ids=ids(session_images))


def test_batch_with_a_bad_tag_changes_nothing(session, session_images, bob):
    before = session.events.count()
    with pytest.raises(InvalidInput):
        services.batch_apply(
            session, actor=bob, image_ids=ids(session_images), add=["fine", "bad\x00"]
        )
    assert session.events.count() == before
    assert not SessionImageTag.objects.exists()


def test_batch_spans_chunks(session, alice, bob):
    images = [make_image(name=f"many{i}.png", color=(i % 255, 0, 0)) for i in range(1203)]
    services.session_images_add(session, actor=alice, images=images)
    outcome = services.batch_apply(session, actor=bob, image_ids=ids(images), add=["bulk"])
    assert outcome.value.changed == 1203
    assert count_of("bulk") == real_count("bulk") == 1203
    outcome = services.batch_apply(session, actor=bob, image_ids=ids(images), remove=["bulk"])
    assert count_of("bulk") == real_count("bulk") == 0


def test_rows_written_by_raw_sql_carry_the_orms_timestamps(session, session_images, bob):
    """Batch adds and undo restores insert rows in raw SQL; the ORM must find them by value."""
    before = timezone.now()
    services.tags_add(session, session_images[0].pk, actor=bob, names=["a"])
    services.batch_apply(session, actor=bob, image_ids=ids(session_images), add=["c"])
    services.batch_apply(session, actor=bob, image_ids=ids(session_images), remove=["a"])
    operation_undo(session, actor=bob)  # puts "a" back through lists_write
    assert sorted(real_count(name) for name in ("a", "c")) == [1, 3]
    stamps = set(SessionImageTag.objects.values_list("created_at", flat=True))
    assert all(before <= stamp <= timezone.now() for stamp in stamps)
    found = SessionImageTag.objects.filter(created_at__in=stamps)
    assert found.count() == SessionImageTag.objects.count() == 4
