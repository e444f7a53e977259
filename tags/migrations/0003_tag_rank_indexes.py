"""Autocomplete's indexes (tags.autocomplete): the rank walk and the prefix ranges.

The prefix indexes lead with the name and carry what autocomplete reads, so a
prefix's range is read from the index alone. They differ per database, so they
are made here rather than in Meta.indexes: PostgreSQL serves `LIKE 'ab%'` from
a btree only with the pattern operator class (unless the collation is plain
C); SQLite compares BINARY and reads a prefix as a plain range.
"""

from django.db import migrations, models

PREFIX_INDEXES = [
    # (index, table, the columns after the name)
    ("tag_prefix_idx", "tags_tag", "image_count, popularity, category"),
    ("alias_prefix_idx", "tags_tagalias", "tag_id"),
]


def create_prefix_indexes(apps, schema_editor):
    pattern = " text_pattern_ops" if schema_editor.connection.vendor == "postgresql" else ""
    for index, table, columns in PREFIX_INDEXES:
        schema_editor.execute(f"CREATE INDEX {index} ON {table} (name{pattern}, {columns})")


def drop_prefix_indexes(apps, schema_editor):
    for index, _, _ in PREFIX_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0002_imagetag_drop_redundant_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="tag", name="tag_popular_idx"),
        migrations.AddIndex(
            model_name="tag",
            index=models.Index(
                fields=["-image_count", "-popularity", "name", "category"], name="tag_rank_idx"
            ),
        ),
        migrations.RunPython(create_prefix_indexes, drop_prefix_indexes, elidable=False),
    ]
