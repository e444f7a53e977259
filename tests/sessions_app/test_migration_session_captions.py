"""sessions_app 0007 moves every image's tags to each session holding it.

A database at the old shape is filled through the historical models, then
migrated forward; every session's captions must be what its images said.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("sessions_app", "0006_session_name_unique_per_owner"),
    ("tags", "0007_tag_words"),
    ("images", "0001_initial"),
]
AFTER = [
    ("sessions_app", "0007_session_image_tags"),
    ("tags", "0008_image_tags_moved_to_sessions"),
    ("images", "0002_version_moved_to_sessions"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _populate(apps) -> dict:
    """Two sessions sharing an image, one image in no session; what each image says."""
    User = apps.get_model("auth", "User")
    Image = apps.get_model("images", "Image")
    Tag = apps.get_model("tags", "Tag")
    ImageTag = apps.get_model("tags", "ImageTag")
    Session = apps.get_model("sessions_app", "TaggingSession")
    SessionImage = apps.get_model("sessions_app", "SessionImage")
    alice = User.objects.create(username="alice-m")
    images = [
        Image.objects.create(
            sha256=f"{index:064x}",
            file=f"originals/m/{index}.png",
            original_name=f"{index}.png",
            width=8,
            height=8,
            format="PNG",
            byte_size=10,
            version=index + 3,
        )
        for index in range(4)
    ]
    tags = [Tag.objects.create(name=f"tag{index}", image_count=0) for index in range(6)]
    said: dict[int, list[tuple]] = {}
    for index, image in enumerate(images):
        rows = []
        for offset in range(index + 2):
            tag = tags[(index + offset) % len(tags)]
            position = 10 * offset + index  # gaps are allowed and kept
            confidence = 0.5 if offset == 1 else None
            source = "autotagger" if offset == 1 else "manual"
            ImageTag.objects.create(
                image=image,
                tag=tag,
                position=position,
                source=source,
                confidence=confidence,
                added_by=alice,
            )
            rows.append((tag.name, position, source, confidence, alice.pk))
        said[image.pk] = rows
    first = Session.objects.create(name="first", owner=alice)
    second = Session.objects.create(name="second", owner=alice)
    for position, image in enumerate(images[:3]):
        SessionImage.objects.create(session=first, image=image, position=position)
    # images[1] is in both sessions; images[3] in none.
    for position, image in enumerate(images[1:3]):
        SessionImage.objects.create(session=second, image=image, position=position)
    versions = {image.pk: image.version for image in images}
    names = {image.pk: image.original_name for image in images}
    return {"said": said, "versions": versions, "names": names, "sessions": [first.pk, second.pk]}


def test_every_session_gets_a_copy_of_its_images_captions():
    old = _migrate(BEFORE)
    try:
        before = _populate(old)
        new = _migrate(AFTER)
        SessionImage = new.get_model("sessions_app", "SessionImage")
        SessionImageTag = new.get_model("sessions_app", "SessionImageTag")
        Tag = new.get_model("tags", "Tag")
        entries = list(SessionImage.objects.filter(session_id__in=before["sessions"]))
        assert len(entries) == 5
        for entry in entries:
            rows = SessionImageTag.objects.filter(entry=entry).order_by("position", "id")
            got = list(
                rows.values_list("tag__name", "position", "source", "confidence", "added_by")
            )
            assert got == before["said"][entry.image_id], entry
            assert entry.version == before["versions"][entry.image_id]
            # The only name there was: the image's.
            assert entry.original_name == before["names"][entry.image_id]
            assert (entry.caption, entry.caption_version) == ("", 0)
        # A tag's count is how many session images carry it.
        for tag in Tag.objects.all():
            assert tag.image_count == SessionImageTag.objects.filter(tag=tag).count()
        # The shared image's two copies are separate rows.
        shared = [entry for entry in entries if entry.image_id == entries[1].image_id]
        assert len(shared) == 2
        ids = [
            set(SessionImageTag.objects.filter(entry=e).values_list("id", flat=True))
            for e in shared
        ]
        assert not ids[0] & ids[1]
    finally:
        # Back to the latest state, later migrations included, for the tests after this one.
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
