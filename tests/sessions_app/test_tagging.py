import pytest

from sessions_app import services
from sessions_app.models import SessionEvent, SessionImageTag, TaggingSession
from tagger_project.errors import NotFound, StaleVersion
from tags.models import Tag, TagSource
from tags.normalize import InvalidTagName
from tags.services import alias_create, implication_create


def tag_names(image) -> list[str]:
    return list(
        SessionImageTag.objects.filter(entry__image=image)
        .order_by("position")
        .values_list("tag__name", flat=True)
    )


def count_of(name: str) -> int:
    return Tag.objects.get(name=name).image_count


def test_add_appends_in_order_normalized_and_logs_event(session, session_images, bob):
    image = session_images[0]
    outcome = services.tags_add(
        session, image.pk, actor=bob, names=["Red_Hair", "(smile:1.2)", "red hair"]
    )
    assert [tag["name"] for tag in outcome.value.tags] == ["red hair", "smile"]
    assert tag_names(image) == ["red hair", "smile"]
    assert outcome.value.version == 1
    event = SessionEvent.objects.get(session=session, seq=outcome.seq)
    assert event.kind == "tags.changed"
    assert event.payload["added"] == ["red hair", "smile"]
    assert event.actor == bob
    assert count_of("red hair") == 1


def test_add_existing_tag_changes_nothing(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["cat"])
    last_seq = session.events.count()
    outcome = services.tags_add(session, image.pk, actor=bob, names=["cat"])
    assert outcome.value.version == 1
    assert session.events.count() == last_seq
    assert count_of("cat") == 1


def test_add_applies_implications_transitively(session, session_images, bob):
    cat_ears = Tag.objects.create(name="cat ears")
    animal_ears = Tag.objects.create(name="animal ears")
    ears = Tag.objects.create(name="ears")
    implication_create(cat_ears, implied=animal_ears)
    implication_create(animal_ears, implied=ears)
    outcome = services.tags_add(session, session_images[0].pk, actor=bob, names=["cat ears"])
    assert [(t["name"], t["source"]) for t in outcome.value.tags] == [
        ("cat ears", TagSource.MANUAL),
        ("animal ears", TagSource.IMPLICATION),
        ("ears", TagSource.IMPLICATION),
    ]


def test_add_resolves_aliases(session, session_images, bob):
    cat = Tag.objects.create(name="cat")
    alias_create(cat, name="Kitty")
    outcome = services.tags_add(session, session_images[0].pk, actor=bob, names=["kitty"])
    assert [tag["name"] for tag in outcome.value.tags] == ["cat"]


def test_bad_tag_name_changes_nothing(session, session_images, bob):
    before = session.events.count()
    with pytest.raises(InvalidTagName):
        services.tags_add(session, session_images[0].pk, actor=bob, names=["good", "x" * 300])
    assert tag_names(session_images[0]) == []
    assert not Tag.objects.filter(name="good").exists()
    assert session.events.count() == before


def test_remove_keeps_order_and_counts(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["a", "b", "c"])
    services.tags_remove(session, image.pk, actor=bob, names=["B", "missing"])
    assert tag_names(image) == ["a", "c"]
    assert count_of("b") == 0


def test_set_reorders_and_keeps_sources(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["a"], source=TagSource.CAPTION)
    outcome = services.tags_add(session, image.pk, actor=bob, names=["b"])
    outcome = services.tags_set(
        session, image.pk, actor=bob, names=["b", "c", "a"], version=outcome.value.version
    )
    assert [(t["name"], t["source"]) for t in outcome.value.tags] == [
        ("b", "manual"),
        ("c", "manual"),
        ("a", "caption"),
    ]


def test_set_with_stale_version_is_refused_with_current_state(session, session_images, alice, bob):
    image = session_images[0]
    seen = services.image_tag_state(session, image.pk)
    services.tags_add(session, image.pk, actor=alice, names=["first"])
    with pytest.raises(StaleVersion) as excinfo:
        services.tags_set(session, image.pk, actor=bob, names=["second"], version=seen.version)
    assert excinfo.value.current["tags"][0]["name"] == "first"
    assert tag_names(image) == ["first"]


def test_edit_of_missing_image_is_not_found(session, bob):
    with pytest.raises(NotFound):
        services.tags_add(session, 999999, actor=bob, names=["a"])


def test_seq_is_gapless_per_session(session, session_images, bob):
    for index, image in enumerate(session_images):
        services.tags_add(session, image.pk, actor=bob, names=[f"t{index}"])
        services.session_image_set_status(session, actor=bob, image_id=image.pk, status="tagged")
    seqs = list(session.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    session.refresh_from_db()
    assert session.last_seq == seqs[-1]


def test_edit_is_logged_only_in_the_session_it_is_made_in(session, session_images, alice):
    """Each session holds its own list of the image, so the other session's log and
    list stay as they were."""
    other = services.session_create(owner=alice, name="Other").value
    services.session_images_add(other, actor=alice, images=[session_images[0]])
    other_seq = TaggingSession.objects.get(pk=other.pk).last_seq
    outcome = services.tags_add(session, session_images[0].pk, actor=alice, names=["shared"])
    assert {event.session_id for event in outcome.events} == {session.pk}
    assert TaggingSession.objects.get(pk=other.pk).last_seq == other_seq
    assert services.image_tag_state(other, session_images[0].pk).tags == []
