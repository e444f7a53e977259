"""tags' raw SQL: the statements the app runs by hand and the helpers they share.

Raw where the ORM cost more than the database (the label cache's reads, the
query language's name lookup, the vocabulary's bulk upserts; autocomplete's
index-range reads are built in tags/autocomplete.py and run here). No other
module of tags opens a cursor. One chunk size for name and id lists and one
for inserted rows keep every statement under SQLite's 32,766 and
PostgreSQL's 65,535 parameters. The query language (tags/query.py) compiles
to SQL fragments that sessions_app runs; it does not run them itself.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models

from tagger_project.db import db_now, placeholders
from tags.models import Tag, TagAlias

# Names or ids per IN (…) list.
ID_CHUNK = 500
# Rows per executemany batch of INSERT … VALUES (a handful of columns each).
ROW_CHUNK = 5000

# Created with its triggers by migration tags/0005. It is not a model, so that
# a test database flush (which deletes every model's rows) cannot reset it.
GENERATION_TABLE = "tags_vocabulary_generation"


def chunked(items: Sequence, size: int = ID_CHUNK) -> Iterator[Sequence]:
    """The items in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Every row of one read."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def table(model: type[models.Model]) -> str:
    """The model's table name, quoted for this database."""
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return connection.ops.quote_name(field.column)


def rows_insert(
    model: type[models.Model], fields: list[str], rows: list[tuple], *, suffix: str = ""
) -> None:
    """INSERT rows in chunks with plain parameters: the same SQL on SQLite and PostgreSQL."""
    columns = ", ".join(_column(model, name) for name in fields)
    sql = f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders(len(fields))}) {suffix}"
    with connection.cursor() as cursor:
        for chunk in chunked(rows, ROW_CHUNK):
            cursor.executemany(sql, chunk)


def tags_upsert(rows: list[tuple[str, str, int]]) -> None:
    """Create or update tags from (name, category, popularity) rows, as a vocabulary says.

    bulk_create spends ~15x the database's time compiling SQL for 100k rows
    (bench/vocabulary_bench.py); one portable upsert (SQLite >= 3.24 and
    PostgreSQL) keeps created_at and image_count of existing tags as they are.
    """
    now = db_now(Tag)
    rows_insert(
        Tag,
        ["name", "category", "description", "image_count", "popularity", "created_at"],
        [(name, category, "", 0, popularity, now) for name, category, popularity in rows],
        suffix="ON CONFLICT (name) DO UPDATE SET category = excluded.category, "
        "popularity = excluded.popularity",
    )


def aliases_insert(rows: list[tuple[str, int]]) -> None:
    """Create aliases from (alias name, tag id) rows; none of them may exist yet."""
    now = db_now(TagAlias)
    rows_insert(TagAlias, ["name", "tag", "created_at"], [(*row, now) for row in rows])


# --- the label cache (tags/labels.py) -------------------------------------------------------


def vocabulary_generation() -> int:
    """The counter the label caches compare with (0 before the first change)."""
    rows = fetch(f"SELECT value FROM {GENERATION_TABLE}", [])
    return rows[0][0] if rows else 0


def tag_labels(tag_ids: Sequence[int] | None) -> list[tuple[int, str, str]]:
    """(id, name, category) of these tags, or of every tag (None)."""
    ids = [] if tag_ids is None else list(tag_ids)
    where = "" if tag_ids is None else f" WHERE id IN ({placeholders(len(ids))})"
    return fetch(f"SELECT id, name, category FROM {table(Tag)}{where}", ids)


# --- the query language's name lookup (tags/query.py) -----------------------------------------


def names_lookup(names: list[str], universe_table: str) -> list[tuple]:
    """(kind, name, tag id, image count) for each alias (1) and tag (0) of these names,
    and one (2, None, highest id of `universe_table`, 0) row: one query for three reads."""
    marks = placeholders(len(names))
    universe = connection.ops.quote_name(universe_table)
    sql = (
        f"SELECT 1, a.name, t.id, t.image_count FROM {table(TagAlias)} a"
        f" JOIN {table(Tag)} t ON t.id = a.tag_id WHERE a.name IN ({marks})"
        f" UNION ALL SELECT 0, t.name, t.id, t.image_count FROM {table(Tag)} t"
        f" WHERE t.name IN ({marks})"
        f" UNION ALL SELECT 2, NULL, MAX(i.id), 0 FROM {universe} i"
    )
    return fetch(sql, [*names, *names])
