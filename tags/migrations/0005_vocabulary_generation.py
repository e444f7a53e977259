"""The vocabulary counter behind tags.labels: triggers move it on any change to a
tag's name or category and on any delete, whoever writes the SQL.

SQLite fires per row, so a WHEN clause skips updates that leave both columns as
they were (a vocabulary import rewrites categories in bulk, mostly unchanged).
PostgreSQL fires once per statement, so a bulk update moves the counter once
and not once per row (each move of the row would leave a dead tuple). TRUNCATE
(a test database flush) moves it too.

Django remakes a SQLite table for some schema changes, and that drops its
triggers: tests/tags/test_labels.py fails if a later migration loses them.
"""

from django.db import migrations

TABLE = "tags_vocabulary_generation"
TRIGGERS = ("tags_tag_relabelled", "tags_tag_deleted")

SQLITE = [
    f"CREATE TABLE {TABLE} (id integer PRIMARY KEY CHECK (id = 1), value integer NOT NULL)",
    f"INSERT INTO {TABLE} (id, value) VALUES (1, 0)",
    f"""CREATE TRIGGER tags_tag_relabelled AFTER UPDATE OF name, category ON tags_tag
        WHEN old.name IS NOT new.name OR old.category IS NOT new.category
        BEGIN UPDATE {TABLE} SET value = value + 1; END""",
    f"""CREATE TRIGGER tags_tag_deleted AFTER DELETE ON tags_tag
        BEGIN UPDATE {TABLE} SET value = value + 1; END""",
]
POSTGRESQL = [
    f"CREATE TABLE {TABLE} (id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)",
    f"INSERT INTO {TABLE} (id, value) VALUES (1, 0)",
    f"""CREATE FUNCTION tags_vocabulary_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE {TABLE} SET value = value + 1; RETURN NULL; END $$""",
    """CREATE TRIGGER tags_tag_relabelled AFTER UPDATE OF name, category ON tags_tag
        FOR EACH STATEMENT EXECUTE FUNCTION tags_vocabulary_changed()""",
    """CREATE TRIGGER tags_tag_deleted AFTER DELETE OR TRUNCATE ON tags_tag
        FOR EACH STATEMENT EXECUTE FUNCTION tags_vocabulary_changed()""",
]


def create_counter(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def drop_counter(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for trigger in TRIGGERS:
        on = " ON tags_tag" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tags_vocabulary_changed()")
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0004_covering_page_indexes"),
    ]

    operations = [
        migrations.RunPython(create_counter, drop_counter, elidable=False),
    ]
