"""Word starts of tag names and aliases (tags.models.TagWord), kept by triggers.

Autocomplete matches `hair` to `long hair` by a prefix range over these rows.
Database triggers write them on every insert, rename and delete of a tag or
an alias, whoever writes the SQL (raw bulk writers and the admin included),
as migration 0005 does for the vocabulary counter. A word starts at a
character that follows one that is not an ASCII letter, and is not a space;
the name's first character is served by the name's own prefix index.

SQLite triggers cannot use a WITH clause, so the positions 2..200 come from a
small table (tags_word_positions); PostgreSQL uses generate_series. The
prefix index gets text_pattern_ops on PostgreSQL, as in 0003.

Django remakes a SQLite table for some schema changes, and that drops its
triggers: tests/tags/test_autocomplete.py fails if a later migration loses them.
"""

from django.db import migrations, models

# tags.models.MAX_TAG_LENGTH when this was written; a migration keeps its own copy.
MAX_TAG_LENGTH = 200

WORDS = "tags_tagword"
POSITIONS = "tags_word_positions"
SQLITE_TRIGGERS = (
    "tags_tag_words_inserted",
    "tags_tag_words_renamed",
    "tags_tag_words_deleted",
    "tags_alias_words_inserted",
    "tags_alias_words_changed",
    "tags_alias_words_deleted",
)


def _sqlite_words(name: str, tag_id: str, alias_id: str) -> str:
    """INSERT … SELECT of the word starts of `name` (SQL expressions over new.*)."""
    return (
        f"INSERT INTO {WORDS} (word, tag_id, alias_id)"
        f" SELECT substr({name}, p.i), {tag_id}, {alias_id} FROM {POSITIONS} p"
        f" WHERE p.i <= length({name})"
        f" AND lower(substr({name}, p.i - 1, 1)) NOT BETWEEN 'a' AND 'z'"
        f" AND substr({name}, p.i, 1) <> ' '"
    )


SQLITE = [
    f"CREATE TABLE {POSITIONS} (i integer PRIMARY KEY)",
    f"""CREATE TRIGGER tags_tag_words_inserted AFTER INSERT ON tags_tag
        BEGIN {_sqlite_words("new.name", "new.id", "NULL")}; END""",
    f"""CREATE TRIGGER tags_tag_words_renamed AFTER UPDATE OF name ON tags_tag
        WHEN old.name IS NOT new.name
        BEGIN DELETE FROM {WORDS} WHERE tag_id = old.id AND alias_id IS NULL;
        {_sqlite_words("new.name", "new.id", "NULL")}; END""",
    f"""CREATE TRIGGER tags_tag_words_deleted AFTER DELETE ON tags_tag
        BEGIN DELETE FROM {WORDS} WHERE tag_id = old.id; END""",
    f"""CREATE TRIGGER tags_alias_words_inserted AFTER INSERT ON tags_tagalias
        BEGIN {_sqlite_words("new.name", "new.tag_id", "new.id")}; END""",
    f"""CREATE TRIGGER tags_alias_words_changed AFTER UPDATE OF name, tag_id ON tags_tagalias
        BEGIN DELETE FROM {WORDS} WHERE alias_id = old.id;
        {_sqlite_words("new.name", "new.tag_id", "new.id")}; END""",
    f"""CREATE TRIGGER tags_alias_words_deleted AFTER DELETE ON tags_tagalias
        BEGIN DELETE FROM {WORDS} WHERE alias_id = old.id; END""",
]


def _postgresql_words(name: str, tag_id: str, alias_id: str) -> str:
    return (
        f"INSERT INTO {WORDS} (word, tag_id, alias_id)"
        f" SELECT substr({name}, p.i), {tag_id}, {alias_id}"
        f" FROM generate_series(2, length({name})) AS p(i)"
        f" WHERE substr({name}, p.i - 1, 1) !~ '[a-zA-Z]' AND substr({name}, p.i, 1) <> ' '"
    )


POSTGRESQL = [
    f"""CREATE FUNCTION tags_tag_words() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            DELETE FROM {WORDS} WHERE tag_id = OLD.id;
          ELSIF TG_OP = 'UPDATE' THEN
            IF OLD.name IS DISTINCT FROM NEW.name THEN
              DELETE FROM {WORDS} WHERE tag_id = OLD.id AND alias_id IS NULL;
              {_postgresql_words("NEW.name", "NEW.id", "NULL")};
            END IF;
          ELSE
            {_postgresql_words("NEW.name", "NEW.id", "NULL")};
          END IF;
          RETURN NULL;
        END $$""",
    f"""CREATE FUNCTION tags_alias_words() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('DELETE', 'UPDATE') THEN
            DELETE FROM {WORDS} WHERE alias_id = OLD.id;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {_postgresql_words("NEW.name", "NEW.tag_id", "NEW.id")};
          END IF;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER tags_tag_words AFTER INSERT OR DELETE OR UPDATE OF name ON tags_tag
        FOR EACH ROW EXECUTE FUNCTION tags_tag_words()""",
    """CREATE TRIGGER tags_alias_words AFTER INSERT OR DELETE OR UPDATE OF name, tag_id
        ON tags_tagalias FOR EACH ROW EXECUTE FUNCTION tags_alias_words()""",
]


def create_word_triggers(apps, schema_editor):
    connection = schema_editor.connection
    postgresql = connection.vendor == "postgresql"
    pattern = " text_pattern_ops" if postgresql else ""
    schema_editor.execute(
        f"CREATE INDEX tagword_prefix_idx ON {WORDS} (word{pattern}, tag_id, alias_id)"
    )
    # Only alias words need finding by alias (most rows are the names' own words).
    schema_editor.execute(
        f"CREATE INDEX tagword_alias_idx ON {WORDS} (alias_id) WHERE alias_id IS NOT NULL"
    )
    for statement in POSTGRESQL if postgresql else SQLITE:
        schema_editor.execute(statement)
    if postgresql:
        backfill = [
            _postgresql_words("t.name", "t.id", "NULL").replace(" FROM ", " FROM tags_tag t, ", 1),
            _postgresql_words("a.name", "a.tag_id", "a.id").replace(
                " FROM ", " FROM tags_tagalias a, ", 1
            ),
        ]
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {POSITIONS} (i) VALUES (%s)",
                [(i,) for i in range(2, MAX_TAG_LENGTH + 1)],
            )
        backfill = [
            _sqlite_words("t.name", "t.id", "NULL").replace(" FROM ", " FROM tags_tag t, ", 1),
            _sqlite_words("a.name", "a.tag_id", "a.id").replace(
                " FROM ", " FROM tags_tagalias a, ", 1
            ),
        ]
    for statement in backfill:
        schema_editor.execute(statement)


def drop_word_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS tags_tag_words ON tags_tag")
        schema_editor.execute("DROP TRIGGER IF EXISTS tags_alias_words ON tags_tagalias")
        schema_editor.execute("DROP FUNCTION IF EXISTS tags_tag_words()")
        schema_editor.execute("DROP FUNCTION IF EXISTS tags_alias_words()")
        return
    for trigger in SQLITE_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {POSITIONS}")


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0006_e621_categories"),
    ]

    operations = [
        migrations.CreateModel(
            name="TagWord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("word", models.CharField(max_length=200)),
                ("tag_id", models.IntegerField()),
                ("alias_id", models.IntegerField(null=True)),
            ],
            options={
                "indexes": [models.Index(fields=["tag_id"], name="tagword_tag_idx")],
            },
        ),
        migrations.RunPython(create_word_triggers, drop_word_triggers, elidable=False),
    ]
