import pytest

from datasets.importing_pipeline import candidate_files, import_files
from images.models import Image
from sessions_app import services
from sessions_app.models import SessionEvent, SessionImageTag, SessionRules
from sessions_app.rules import TagRules, apply_rules, rules_from_input, session_rules
from sessions_app.services.rules import rules_apply, rules_preview
from sessions_app.services.undo import operation_redo, operation_undo
from tagger_project.errors import Conflict, InvalidInput
from tags.models import Tag, TagSource
from tags.normalize import InvalidTagName
from tags.services import alias_create, implication_create
from tests.support.images import png_bytes

CATEGORIES = {"saber": "character", "fate": "copyright", "wlop": "artist", "highres": "meta"}


def full_state(images) -> dict[int, list[tuple]]:
    """Every row of the images as undo must restore it: positions, sources, confidences."""
    rows = SessionImageTag.objects.filter(entry__image__in=images).order_by(
        "entry__image_id", "position", "id"
    )
    state: dict[int, list[tuple]] = {image.pk: [] for image in images}
    for image_id, *rest in rows.values_list(
        "entry__image_id", "tag__name", "position", "source", "confidence"
    ):
        state[image_id].append(tuple(rest))
    return state


def names_of(image, session=None) -> list[str]:
    rows = SessionImageTag.objects.filter(entry__image=image).order_by("position", "id")
    if session is not None:
        rows = rows.filter(entry__session=session)
    return list(rows.values_list("tag__name", flat=True))


def counts_are_true() -> bool:
    # A suggestion is not in any caption, so no count holds it (tag_writer.in_caption).
    return all(
        tag.image_count == tag.entry_tags.exclude(source="suggestion").count()
        for tag in Tag.objects.all()
    )


@pytest.fixture
def tagged(session, session_images, alice):
    """Three images with mixed categories, sources and a confidence."""
    for name, category in CATEGORIES.items():
        Tag.objects.create(name=name, category=category)
    first, second, third = session_images
    services.tags_add(session, first.pk, actor=alice, names=["smile", "saber", "highres", "wlop"])
    services.tags_add(
        session,
        second.pk,
        actor=alice,
        names=["fate", "blurry", "smile"],
        source="autotagger",
    )
    SessionImageTag.objects.filter(entry__image=second, tag__name="blurry").update(
        confidence=0.4, position=7
    )
    services.tags_add(session, third.pk, actor=alice, names=["smile"])
    return session_images


ORDER = ["character", "copyright", "artist", "general", "meta"]


def test_apply_rules_pins_then_orders_by_category_stably():
    tags = [("b", "general"), ("x", "meta"), ("a", "general"), ("c", "character"), ("p", "meta")]
    rules = TagRules(blacklist=("x",), pinned=("p",), category_order=("character", "general"))
    ordered = apply_rules(tags, rules, name=lambda t: t[0], category=lambda t: t[1])
    assert [name for name, _ in ordered] == ["p", "c", "b", "a"]


def test_rules_from_input_normalizes_and_resolves_aliases(db):
    alias_create(Tag.objects.create(name="cat"), name="kitty")
    rules = rules_from_input(blacklist=["Kitty", "bad_tag"], pinned=["solo"], category_order=ORDER)
    assert rules == TagRules(("cat", "bad tag"), ("solo",), tuple(ORDER))


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ({"category_order": ["character", "hair"]}, InvalidInput, "unknown category 'hair'"),
        ({"category_order": ["meta", "meta"]}, InvalidInput, "appears twice"),
        ({"blacklist": ["x" * 300]}, InvalidTagName, "invalid tag"),
        ({"blacklist": [""]}, InvalidTagName, "invalid tag"),
        ({"blacklist": ["a"], "pinned": ["A"]}, InvalidInput, "both pinned and blacklisted"),
        ({"pinned": [f"t{i}" for i in range(51)]}, InvalidInput, "at most"),
    ],
)
def test_rules_from_input_refuses_bad_rules(db, raw, error, message):
    with pytest.raises(error, match=message):
        rules_from_input(**raw)


def test_preview_counts_exactly_and_changes_nothing(session, tagged):
    before, events = full_state(tagged), session.events.count()
    diff = rules_preview(session, rules_from_input(blacklist=["blurry"], category_order=ORDER))
    assert (diff.total, diff.changed) == (3, 2)
    first, second, _ = tagged
    assert diff.sample == [
        {
            "image_id": first.pk,
            "original_name": "cat0.png",
            "before": ["smile", "saber", "highres", "wlop"],
            "after": ["saber", "wlop", "smile", "highres"],
        },
        {
            "image_id": second.pk,
            "original_name": "cat1.png",
            "before": ["fate", "smile", "blurry"],
            "after": ["fate", "smile"],
        },
    ]
    assert full_state(tagged) == before
    assert session.events.count() == events
    assert not SessionRules.objects.exists()


def test_apply_is_one_event_and_undo_restores_exact_state(session, tagged, bob):
    before = full_state(tagged)
    rules = rules_from_input(blacklist=["blurry"], pinned=["smile"], category_order=ORDER)
    outcome = rules_apply(session, actor=bob, rules=rules)
    assert outcome.value.changed == 2
    event = SessionEvent.objects.get(session=session, seq=outcome.seq)
    assert (event.kind, event.payload["image_ids"]) == (
        "rules.applied",
        sorted(outcome.value.changed_image_ids),
    )
    assert session.events.order_by("-seq").first().seq == outcome.seq
    first, second, _ = tagged
    assert names_of(first) == ["smile", "saber", "wlop", "highres"]
    assert names_of(second) == ["smile", "fate"]
    assert session_rules(session.pk) == rules
    assert counts_are_true()

    operation_undo(session, actor=bob)
    assert full_state(tagged) == before
    assert session_rules(session.pk) == TagRules()
    assert counts_are_true()

    operation_redo(session, actor=bob)
    assert names_of(second) == ["smile", "fate"]
    assert session_rules(session.pk) == rules
    assert counts_are_true()


def test_undo_of_apply_refused_when_someone_edited_since(session, tagged, alice, bob):
    rules_apply(session, actor=bob, rules=rules_from_input(category_order=ORDER))
    services.tags_add(session, tagged[0].pk, actor=alice, names=["new"])
    after, events = full_state(tagged), session.events.count()
    with pytest.raises(Conflict, match="changed by someone else"):
        operation_undo(session, actor=bob)
    assert full_state(tagged) == after
    assert session.events.count() == events


def test_rules_apply_on_every_edit(session, tagged, bob):
    rules_apply(session, actor=bob, rules=rules_from_input(blacklist=["ugly"], pinned=["solo"]))
    image = tagged[2]
    services.tags_add(session, image.pk, actor=bob, names=["ugly", "tree", "solo"])
    assert names_of(image) == ["solo", "smile", "tree"]
    outcome = services.tags_set(
        session, image.pk, actor=bob, names=["tree", "solo", "ugly"], version=2
    )
    assert [tag["name"] for tag in outcome.value.tags] == ["solo", "tree"]


def test_implied_blacklisted_tag_is_not_added(session, tagged, bob):
    implication_create(Tag.objects.create(name="cat ears"), implied=Tag.objects.create(name="ears"))
    rules_apply(session, actor=bob, rules=rules_from_input(blacklist=["ears"]))
    services.tags_add(session, tagged[2].pk, actor=bob, names=["cat ears"])
    services.batch_apply(session, actor=bob, image_ids=[tagged[1].pk], add=["cat ears", "ears"])
    assert names_of(tagged[2]) == ["smile", "cat ears"]
    assert "ears" not in names_of(tagged[1])


def test_batch_places_added_tags_by_the_rules_and_undo_is_exact(session, tagged, bob):
    rules_apply(session, actor=bob, rules=rules_from_input(pinned=["solo"], category_order=ORDER))
    before = full_state(tagged)
    services.batch_apply(
        session, actor=bob, image_ids=[image.pk for image in tagged], add=["solo", "saber"]
    )
    assert names_of(tagged[2]) == ["solo", "saber", "smile"]
    assert names_of(tagged[1])[:3] == ["solo", "saber", "fate"]
    operation_undo(session, actor=bob)
    assert full_state(tagged) == before
    assert counts_are_true()


def test_image_in_two_sessions_obeys_each_sessions_rules_in_its_own_list(
    session, tagged, alice, bob
):
    """Each session's rules apply to its own images only (no "oldest session wins")."""
    other = services.session_create(owner=alice, name="Other").value
    services.session_images_add(other, actor=alice, images=[tagged[2]])
    rules_apply(session, actor=alice, rules=rules_from_input(blacklist=["a"]))
    rules_apply(other, actor=alice, rules=rules_from_input(blacklist=["b"], pinned=["c"]))
    services.tags_add(session, tagged[2].pk, actor=alice, names=["a", "b", "c"])
    services.tags_add(other, tagged[2].pk, actor=alice, names=["a", "b", "c"])
    assert names_of(tagged[2], session) == ["smile", "b", "c"]
    assert names_of(tagged[2], other) == ["c", "a"]
    assert counts_are_true()


def test_accept_source_makes_tags_manual_and_undo_restores(session, tagged, bob):
    before = full_state(tagged)
    ids = [image.pk for image in tagged]
    outcome = services.batch_apply(session, actor=bob, image_ids=ids, accept_source="autotagger")
    assert outcome.value.changed_image_ids == [tagged[1].pk]
    rows = SessionImageTag.objects.filter(entry__image=tagged[1])
    assert set(rows.values_list("source", "confidence")) == {(TagSource.MANUAL, None)}
    operation_undo(session, actor=bob)
    assert full_state(tagged) == before
    assert counts_are_true()


def test_drop_source_removes_tags_and_undo_restores(session, tagged, bob):
    before = full_state(tagged)
    ids = [image.pk for image in tagged]
    services.batch_apply(session, actor=bob, image_ids=ids, drop_source="autotagger")
    assert names_of(tagged[1]) == []
    assert counts_are_true()
    operation_undo(session, actor=bob)
    assert full_state(tagged) == before
    assert counts_are_true()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replace": ("smile", "banned")}, "'banned' is blacklisted"),
        ({"accept_source": "robot"}, "unknown source 'robot'"),
        ({"drop_source": ""}, "unknown source"),
        ({"accept_source": "manual"}, "accepted already"),
        ({"accept_source": "caption", "drop_source": "prompt"}, "not both"),
    ],
)
def test_batch_refuses_bad_input(session, tagged, bob, kwargs, message):
    SessionRules.objects.create(session=session, blacklist=["banned"])
    before, events = full_state(tagged), session.events.count()
    with pytest.raises(InvalidInput, match=message):
        services.batch_apply(session, actor=bob, image_ids=[tagged[1].pk], **kwargs)
    assert full_state(tagged) == before
    assert session.events.count() == events


def test_import_obeys_the_session_rules(session, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    rules_apply(session, actor=alice, rules=rules_from_input(blacklist=["bad"], pinned=["solo"]))
    (tmp_path / "new.png").write_bytes(png_bytes((1, 2, 3)))
    (tmp_path / "new.txt").write_text("tree, bad, solo", encoding="utf-8")
    (tmp_path / "old.png").write_bytes(png_bytes((3, 2, 1)))
    (tmp_path / "old.txt").write_text("bad, tree", encoding="utf-8")
    report = import_files(session, actor=alice, files=candidate_files([tmp_path]), workers=1)
    assert report.imported == 2
    assert names_of(Image.objects.get(original_name="new.png")) == ["solo", "tree"]
    assert names_of(Image.objects.get(original_name="old.png")) == ["tree"]


def test_export_orders_captions_by_the_session_rules(session, tagged, alice):
    from datasets.exporting import ExportOptions, export_entries

    # Rules saved without rewriting the images: the export still obeys them.
    SessionRules.objects.create(
        session=session, blacklist=["highres"], pinned=["smile"], category_order=ORDER
    )
    services.session_update(session, actor=alice, trigger_word="sbr")
    options = ExportOptions(include_images=False)
    files = {
        entry.name: b"".join(entry.chunks).decode()
        for entry in export_entries(session, "kohya", options)
    }
    assert files["cat0.txt"] == "sbr, smile, saber, wlop"
    assert "keep_tokens = 2" in files["dataset_config.toml"]
    assert files["cat2.txt"] == "sbr, smile"


def test_restored_backup_lists_obey_the_rules_too(session, tagged, alice):
    from datasets.services import tags_restore

    SessionRules.objects.create(session=session, blacklist=["bad"], pinned=["solo"])
    image = tagged[2]
    tags_restore(
        session,
        image.pk,
        actor=alice,
        entries=[("tree", "caption", None), ("bad", "caption", None), ("solo", "prompt", 0.5)],
    )
    assert full_state([image])[image.pk] == [
        ("solo", 0, "prompt", 0.5),
        ("smile", 1, "manual", None),
        ("tree", 2, "caption", None),
    ]
