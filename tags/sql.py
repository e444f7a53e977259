"""tags' raw SQL: the statements the app runs by hand and the helpers they share.

Raw where the ORM cost more than the database (the label cache's reads, the
query language's name lookup, the vocabulary's bulk upserts). Two modules
build SQL text whose whole subject is the SQL, so they keep it: autocomplete
(tags/autocomplete.py: index-range reads, run through the shared `fetch`)
and the query language (tags/query.py: a compiler to SQL fragments that
sessions_app runs). No module of tags opens a cursor; the cursor, the chunk
sizes and the INSERT are tagger_project/db.py's, shared with sessions_app/sql.py.
"""

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from tagger_project.db import fetch, placeholders, rows_insert, table
from tags.models import Tag, TagAlias

# Created with its triggers by migration tags/0005. It is not a model, so that
# a test database flush (which deletes every model's rows) cannot reset it.
GENERATION_TABLE = "tags_vocabulary_generation"


def tags_upsert(rows: list[tuple[str, str, int]]) -> None:
    """Create or update tags from (name, category, popularity) rows, as a vocabulary says.

    bulk_create spends ~15x the database's time compiling SQL for 100k rows
    (bench/vocabulary_bench.py); one portable upsert (SQLite >= 3.24 and
    PostgreSQL) keeps created_at and image_count of existing tags as they are.
    """
    rows_insert(
        Tag,
        ["name", "category", "popularity"],
        rows,
        on_conflict="ON CONFLICT (name) DO UPDATE SET category = excluded.category, "
        "popularity = excluded.popularity",
        description="",
        image_count=0,
        created_at=timezone.now(),
    )


def aliases_insert(rows: list[tuple[str, int]]) -> None:
    """Create aliases from (alias name, tag id) rows; none of them may exist yet."""
    rows_insert(TagAlias, ["name", "tag"], rows, created_at=timezone.now())


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
