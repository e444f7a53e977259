"""Each session owns its captions: tag rows move from the image to the session image.

Every session holding an image gets a copy of that image's tag rows
(positions, sources, confidences, who and when) and the image's version, in
set-based statements (INSERT … SELECT), so a 100,000-image × 25-tag library
moves in seconds (bench/migration_bench.py). The indexes are built after
the copy (filling a table is cheaper than keeping its indexes up to date row
by row); the constraints are in the new table from the start, because adding
one afterwards makes SQLite rebuild the table. Tag counts are recounted over
the new rows: a tag's `image_count` is how many session images carry it.
tags 0008 and images 0002 then drop the old table and column. The session
image also gains its written caption (empty: nothing held one before) and
its own file name (the image's: the only name there was).

Tags of an image no session holds have nowhere to go and are not copied.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_tag_rows(apps, schema_editor):
    """Each session image gets its image's tag rows, version and name; tag counts follow."""
    quote = schema_editor.connection.ops.quote_name
    entry_tag = quote(apps.get_model("sessions_app", "SessionImageTag")._meta.db_table)
    entry = quote(apps.get_model("sessions_app", "SessionImage")._meta.db_table)
    image_tag = quote(apps.get_model("tags", "ImageTag")._meta.db_table)
    image = quote(apps.get_model("images", "Image")._meta.db_table)
    tag = quote(apps.get_model("tags", "Tag")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entry_tag}"
            " (entry_id, tag_id, position, source, confidence, added_by_id, created_at)"
            " SELECT si.id, it.tag_id, it.position, it.source, it.confidence, it.added_by_id,"
            f" it.created_at FROM {entry} si JOIN {image_tag} it ON it.image_id = si.image_id"
            # In the order the caption index will hold them: the pages' reads stay local.
            " ORDER BY si.id, it.position, it.id"
        )
        cursor.execute(
            f"UPDATE {entry} SET version = COALESCE((SELECT i.version FROM {image} i"
            f" WHERE i.id = {entry}.image_id), 0),"
            f" original_name = COALESCE((SELECT i.original_name FROM {image} i"
            f" WHERE i.id = {entry}.image_id), '')"
        )
        # One GROUP BY, not a count per tag: before the indexes exist, a
        # correlated COUNT(*) scans every row once per tag (600 s at 100k × 25).
        cursor.execute(f"UPDATE {tag} SET image_count = 0")
        cursor.execute(
            f"UPDATE {tag} SET image_count = counted.n FROM (SELECT tag_id, COUNT(*) AS n"
            f" FROM {entry_tag} GROUP BY tag_id) AS counted WHERE counted.tag_id = {tag}.id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0006_session_name_unique_per_owner"),
        ("tags", "0007_tag_words"),
        ("images", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="sessionimage",
            name="version",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="sessionimage",
            name="caption",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="sessionimage",
            name="caption_version",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="sessionimage",
            name="original_name",
            field=models.CharField(default="", max_length=255),
        ),
        migrations.CreateModel(
            name="SessionImageTag",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("manual", "Manual"),
                            ("caption", "caption file"),
                            ("prompt", "embedded prompt"),
                            ("implication", "Implication"),
                            ("rule", "Rule"),
                            ("suggestion", "vocabulary suggestion"),
                            ("autotagger", "auto-tagger"),
                        ],
                        default="manual",
                        max_length=16,
                    ),
                ),
                ("confidence", models.FloatField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "added_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "entry",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tags",
                        to="sessions_app.sessionimage",
                    ),
                ),
                (
                    "tag",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entry_tags",
                        to="tags.tag",
                    ),
                ),
            ],
            options={
                "ordering": ["entry", "position", "id"],
                # In the table from the start: an AddConstraint after the copy
                # makes SQLite rebuild the whole table (3 rebuilds of 2.5M rows).
                "constraints": [
                    models.UniqueConstraint(fields=("entry", "tag"), name="entrytag_unique"),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "source__in",
                                [
                                    "manual",
                                    "caption",
                                    "prompt",
                                    "implication",
                                    "rule",
                                    "suggestion",
                                    "autotagger",
                                ],
                            )
                        ),
                        name="entrytag_source_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("confidence__isnull", True),
                            models.Q(("confidence__gte", 0), ("confidence__lte", 1)),
                            _connector="OR",
                        ),
                        name="entrytag_confidence_range",
                    ),
                ],
            },
        ),
        migrations.RunPython(copy_tag_rows, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name="sessionimagetag",
            index=models.Index(fields=["tag", "entry"], name="entrytag_tag_entry_idx"),
        ),
        migrations.AddIndex(
            model_name="sessionimagetag",
            index=models.Index(
                fields=["entry", "position", "id", "tag", "source"], name="entrytag_caption_idx"
            ),
        ),
    ]
