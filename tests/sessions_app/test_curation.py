import pytest

from sessions_app import services
from sessions_app.models import SessionImageTag
from tagger_project.errors import Conflict, InvalidInput
from tags.models import Tag, TagAlias, TagImplication
from tags.selectors import resolve_tag_names
from tags.services import alias_create, implication_create


def tag_names(image) -> list[str]:
    rows = SessionImageTag.objects.filter(entry__image=image).order_by("position", "id")
    return list(rows.values_list("tag__name", flat=True))


def test_merge_keeps_positions_and_removes_duplicates(session, session_images, bob):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=bob, names=["a", "kitty", "c"])
    services.tags_add(session, second.pk, actor=bob, names=["cat", "b", "kitty"])
    kitty, cat = Tag.objects.get(name="kitty"), Tag.objects.get(name="cat")
    before = session.events.count()
    services.tag_merge(kitty, actor=bob, into=cat)
    assert tag_names(first) == ["a", "cat", "c"]
    assert tag_names(second) == ["cat", "b"]
    cat.refresh_from_db()
    assert cat.image_count == SessionImageTag.objects.filter(tag=cat).count() == 2
    assert not Tag.objects.filter(name="kitty").exists()
    assert resolve_tag_names(["kitty"]) == ["cat"]
    assert session.events.count() == before + 1
    assert session.events.last().kind == "tags.merged"


def test_merge_moves_aliases_and_implications(db, bob):
    kitty, cat, animal = (Tag.objects.create(name=n) for n in ("kitty", "cat", "animal"))
    alias_create(kitty, name="kitten")
    implication_create(kitty, implied=animal)
    services.tag_merge(kitty, actor=bob, into=cat)
    assert resolve_tag_names(["kitten", "kitty"]) == ["cat"]
    assert TagImplication.objects.filter(tag=cat, implied=animal).exists()


def test_merge_into_itself_is_refused(db, bob):
    cat = Tag.objects.create(name="cat")
    with pytest.raises(InvalidInput):
        services.tag_merge(cat, actor=bob, into=cat)


def test_rename_keeps_old_name_as_alias(session, session_images, bob):
    services.tags_add(session, session_images[0].pk, actor=bob, names=["kity"])
    tag = Tag.objects.get(name="kity")
    services.tag_rename(tag, actor=bob, new_name="Kitty")
    assert tag_names(session_images[0]) == ["kitty"]
    assert TagAlias.objects.get(name="kity").tag == tag
    assert session.events.last().kind == "tag.renamed"


def test_rename_onto_existing_tag_is_refused(db, bob):
    Tag.objects.create(name="cat")
    kitty = Tag.objects.create(name="kitty")
    with pytest.raises(Conflict):
        services.tag_rename(kitty, actor=bob, new_name="cat")
    kitty.refresh_from_db()
    assert kitty.name == "kitty"


def test_implication_cycle_is_refused(db):
    a, b, c = (Tag.objects.create(name=n) for n in "abc")
    implication_create(a, implied=b)
    implication_create(b, implied=c)
    with pytest.raises(Conflict):
        implication_create(c, implied=a)
    with pytest.raises(InvalidInput):
        implication_create(a, implied=a)
    assert TagImplication.objects.count() == 2


def test_alias_of_a_used_tag_is_refused(session, session_images, bob):
    services.tags_add(session, session_images[0].pk, actor=bob, names=["kitty"])
    cat = Tag.objects.create(name="cat")
    with pytest.raises(Conflict):
        alias_create(cat, name="kitty")
    assert not TagAlias.objects.exists()


def test_recategorize_tells_the_sessions_showing_the_tag(session, session_images, bob):
    services.tags_add(session, session_images[0].pk, actor=bob, names=["saber"])
    saber = Tag.objects.get(name="saber")
    before = session.events.count()
    services.tag_recategorize(saber, actor=bob, category="character")
    assert Tag.objects.get(name="saber").category == "character"
    event = session.events.last()
    assert (event.kind, event.payload) == (
        "tag.recategorized",
        {"tag": "saber", "from": "general", "to": "character"},
    )
    services.tag_recategorize(saber, actor=bob, category="character")  # no change, no event
    assert session.events.count() == before + 1


def test_recategorize_to_an_unknown_category_changes_nothing(session, session_images, bob):
    services.tags_add(session, session_images[0].pk, actor=bob, names=["saber"])
    before = session.events.count()
    with pytest.raises(InvalidInput):
        services.tag_recategorize(Tag.objects.get(name="saber"), actor=bob, category="nope")
    assert Tag.objects.get(name="saber").category == "general"
    assert session.events.count() == before
