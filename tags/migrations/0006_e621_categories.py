"""e621's categories (species, contributor, lore, invalid) become known categories.

Changing the check constraint makes Django remake tags_tag on SQLite, which
drops what raw SQL made on it: autocomplete's tag_prefix_idx (0003) and the
vocabulary-counter triggers (0005). They are made again here (PostgreSQL
alters the table in place and keeps them).
"""

import importlib

from django.db import migrations, models

_INDEXES = importlib.import_module("tags.migrations.0003_tag_rank_indexes")
_COUNTER = importlib.import_module("tags.migrations.0005_vocabulary_generation")


def restore_sqlite_extras(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for index, table, columns in _INDEXES.PREFIX_INDEXES:
        if table == "tags_tag":
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {index} ON {table} (name, {columns})"
            )
    for trigger in _COUNTER.TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in _COUNTER.SQLITE:
        if statement.startswith("CREATE TRIGGER"):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0005_vocabulary_generation"),
    ]

    operations = [
        # Reversed last, after the remakes that unapplying the rest does.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_extras, elidable=False),
        migrations.RemoveConstraint(
            model_name="tag",
            name="tag_category_known",
        ),
        migrations.AlterField(
            model_name="tag",
            name="category",
            field=models.CharField(
                choices=[
                    ("general", "General"),
                    ("artist", "Artist"),
                    ("copyright", "Copyright"),
                    ("character", "Character"),
                    ("meta", "Meta"),
                    ("species", "Species"),
                    ("contributor", "Contributor"),
                    ("lore", "Lore"),
                    ("invalid", "Invalid"),
                ],
                default="general",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "category__in",
                        [
                            "general",
                            "artist",
                            "copyright",
                            "character",
                            "meta",
                            "species",
                            "contributor",
                            "lore",
                            "invalid",
                        ],
                    )
                ),
                name="tag_category_known",
            ),
        ),
        migrations.RunPython(restore_sqlite_extras, migrations.RunPython.noop, elidable=False),
    ]
