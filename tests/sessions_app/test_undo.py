import pytest

from sessions_app import services
from sessions_app.models import SessionImage, SessionImageTag
from sessions_app.services.undo import operation_redo, operation_undo, undo_stacks
from tagger_project.errors import Conflict
from tags.models import Tag


def tag_state(image) -> list[tuple[str, int, str]]:
    rows = SessionImageTag.objects.filter(entry__image=image).order_by("position", "id")
    return list(rows.values_list("tag__name", "position", "source"))


def counts_are_true() -> bool:
    # A suggestion is not in any caption, so no count holds it (tag_writer.in_caption).
    return all(
        tag.image_count == tag.entry_tags.exclude(source="suggestion").count()
        for tag in Tag.objects.all()
    )


def test_undo_and_redo_of_a_tag_edit(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["a", "b"])
    before = tag_state(image)
    services.tags_set(session, image.pk, actor=bob, names=["b", "c"], version=1)
    after = tag_state(image)
    undo_event = operation_undo(session, actor=bob).value
    assert undo_event.payload["undo_of"] == undo_event.seq - 1
    assert tag_state(image) == before
    operation_redo(session, actor=bob)
    assert [name for name, *_ in tag_state(image)] == [name for name, *_ in after]
    assert counts_are_true()


def test_undo_walks_back_through_own_operations_only(session, session_images, alice, bob):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=bob, names=["mine"])
    services.tags_add(session, second.pk, actor=alice, names=["hers"])
    services.session_image_set_status(session, actor=bob, image_id=second.pk, status="tagged")
    operation_undo(session, actor=bob)
    assert SessionImage.objects.get(session=session, image=second).status == "todo"
    operation_undo(session, actor=bob)
    assert tag_state(first) == []
    assert [name for name, *_ in tag_state(second)] == ["hers"]
    with pytest.raises(Conflict, match="nothing to undo"):
        operation_undo(session, actor=bob)


def test_undo_conflicting_with_someone_elses_later_edit_is_refused(
    session, session_images, alice, bob
):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["mine"])
    services.tags_add(session, image.pk, actor=alice, names=["hers"])
    seq_before = session.events.count()
    with pytest.raises(Conflict, match="changed by someone else"):
        operation_undo(session, actor=bob)
    assert [name for name, *_ in tag_state(image)] == ["mine", "hers"]
    assert session.events.count() == seq_before


def test_new_operation_clears_redo(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["a"])
    operation_undo(session, actor=bob)
    services.tags_add(session, image.pk, actor=bob, names=["b"])
    with pytest.raises(Conflict, match="nothing to redo"):
        operation_redo(session, actor=bob)


def test_batch_undo_restores_exact_previous_state(session, session_images, bob):
    ids = [image.pk for image in session_images]
    services.tags_add(session, ids[0], actor=bob, names=["x", "old", "y"])
    services.tags_add(session, ids[1], actor=bob, names=["old", "new", "z"])
    before = {image.pk: tag_state(image) for image in session_images}
    services.batch_apply(
        session, actor=bob, image_ids=ids, add=["added"], remove=["z"], replace=("old", "new")
    )
    assert {image.pk: tag_state(image) for image in session_images} != before
    operation_undo(session, actor=bob)
    assert {image.pk: tag_state(image) for image in session_images} == before
    assert counts_are_true()
    operation_redo(session, actor=bob)
    names = [name for name, *_ in tag_state(session_images[0])]
    assert names == ["x", "new", "y", "added"]
    assert counts_are_true()
    undo, redo = undo_stacks(session, bob)
    assert (len(undo), redo) == (3, [])


def test_batch_undo_refused_when_an_image_changed_since(session, session_images, alice, bob):
    ids = [image.pk for image in session_images]
    services.batch_apply(session, actor=bob, image_ids=ids, add=["added"])
    services.tags_add(session, ids[2], actor=alice, names=["later"])
    with pytest.raises(Conflict, match="1 of the images"):
        operation_undo(session, actor=bob)
    assert SessionImageTag.objects.filter(tag__name="added").count() == 3


def test_undo_walks_back_through_several_of_ones_own_edits_on_one_image(
    session, session_images, bob
):
    # Each undo moves the image's version; the next undo must not take that
    # for someone else's change.
    image = session_images[0]
    for name in ("aaa", "bbb", "ccc"):
        services.tags_add(session, image.pk, actor=bob, names=[name])
    for expected in (["aaa", "bbb"], ["aaa"], []):
        operation_undo(session, actor=bob)
        assert [name for name, *_ in tag_state(image)] == expected
    for expected in (["aaa"], ["aaa", "bbb"], ["aaa", "bbb", "ccc"]):
        operation_redo(session, actor=bob)
        assert [name for name, *_ in tag_state(image)] == expected
    operation_undo(session, actor=bob)
    operation_undo(session, actor=bob)
    assert [name for name, *_ in tag_state(image)] == ["aaa"]
    assert counts_are_true()


def test_undo_after_own_undo_is_still_refused_over_someone_elses_edit(
    session, session_images, alice, bob
):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["aaa"])
    services.tags_add(session, image.pk, actor=alice, names=["hers"])
    services.tags_add(session, image.pk, actor=bob, names=["bbb"])
    operation_undo(session, actor=bob)
    with pytest.raises(Conflict, match="changed by someone else"):
        operation_undo(session, actor=bob)
    assert [name for name, *_ in tag_state(image)] == ["aaa", "hers"]


def test_batch_undos_walk_back_in_sequence(session, session_images, bob):
    ids = [image.pk for image in session_images]
    services.batch_apply(session, actor=bob, image_ids=ids, add=["one"])
    services.batch_apply(session, actor=bob, image_ids=ids, add=["two"])
    services.tags_add(session, ids[0], actor=bob, names=["three"])
    for _ in range(3):
        operation_undo(session, actor=bob)
    assert SessionImageTag.objects.filter(entry__image_id__in=ids).count() == 0
    assert counts_are_true()
