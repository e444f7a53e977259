"""sessions_app 0008 recounts every tag's images without the suggestions (tag_writer.in_caption)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def _with_sessions_at(name: str) -> list[tuple[str, str]]:
    """Every app at its latest migration but sessions_app, at `name`."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [leaf for leaf in leaves if leaf[0] != "sessions_app"] + [("sessions_app", name)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_counts_leave_suggestions_out():
    old = _migrate(_with_sessions_at("0007_session_image_tags"))
    try:
        User = old.get_model("auth", "User")
        Image = old.get_model("images", "Image")
        Tag = old.get_model("tags", "Tag")
        Session = old.get_model("sessions_app", "TaggingSession")
        SessionImage = old.get_model("sessions_app", "SessionImage")
        SessionImageTag = old.get_model("sessions_app", "SessionImageTag")
        alice = User.objects.create(username="alice-c")
        session = Session.objects.create(name="counts", owner=alice)
        cat, dog = (Tag.objects.create(name=name, image_count=9) for name in ("cat", "dog"))
        for index, sources in enumerate(
            [("manual", "suggestion"), ("autotagger", "suggestion"), ("suggestion", None)]
        ):
            image = Image.objects.create(
                sha256=f"{index:064x}",
                file=f"o/{index}.png",
                original_name=f"{index}.png",
                width=8,
                height=8,
                format="PNG",
                byte_size=10,
            )
            entry = SessionImage.objects.create(session=session, image=image, position=index)
            for tag, source in zip((cat, dog), sources, strict=True):
                if source:
                    SessionImageTag.objects.create(entry=entry, tag=tag, position=0, source=source)
        new = _migrate(_with_sessions_at("0008_image_count_without_suggestions"))
        counts = dict(new.get_model("tags", "Tag").objects.values_list("name", "image_count"))
        assert counts == {"cat": 2, "dog": 0}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
