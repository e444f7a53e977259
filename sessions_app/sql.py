"""sessions_app's raw SQL: every statement the app writes by hand, and the helpers they share.

Raw where the ORM cost more than the database: it prepares each id of an
`__in` lookup as an expression (~15 µs apiece), which was most of a
10,000-image batch, each value of a bulk_create row likewise, and its per-row
machinery 3-4× the database's own time on a session's 200,000 tag rows. One
chunk size for id lists and one for rows keep every statement well under
SQLite's 32,766 and PostgreSQL's 65,535 parameters; those sizes and the
INSERT are tagger_project/db.py's, shared with tags/sql.py. The one exception
is the version bump, which the tag writer (services/tag_writer.py) owns.
"""

from collections.abc import Sequence

from django.db import connection

from images.models import Image
from sessions_app.models import SessionImage, SessionImageTag, SessionMember
from tagger_project.db import ROW_CHUNK, chunked, fetch, placeholders
from tags.models import Tag


def _column(sql: str, params: list) -> list:
    return [row[0] for row in fetch(sql, params)]


def entries_in_session(session_id: int, image_ids: Sequence[int]) -> dict[int, int]:
    """image id -> session image id, for those of the images that the session holds.

    Every door names images by their image id; inside the service layer the
    tag rows hang on the session image, so this is where one becomes the other.
    """
    table = SessionImage._meta.db_table
    found: dict[int, int] = {}
    for chunk in chunked(sorted(set(image_ids))):
        found.update(
            fetch(
                f"SELECT image_id, id FROM {table}"
                f" WHERE session_id = %s AND image_id IN ({placeholders(len(chunk))})",
                [session_id, *chunk],
            )
        )
    return found


def image_ids_of(entry_ids: Sequence[int]) -> dict[int, int]:
    """session image id -> image id."""
    table = SessionImage._meta.db_table
    found: dict[int, int] = {}
    for chunk in chunked(sorted(set(entry_ids))):
        found.update(
            fetch(
                f"SELECT id, image_id FROM {table} WHERE id IN ({placeholders(len(chunk))})",
                list(chunk),
            )
        )
    return found


def entry_ids_with_tag(tag_id: int, entry_ids: Sequence[int]) -> set[int]:
    """Those of the session images that have the tag."""
    table = SessionImageTag._meta.db_table
    having: set[int] = set()
    for chunk in chunked(entry_ids):
        having.update(
            _column(
                f"SELECT entry_id FROM {table}"
                f" WHERE tag_id = %s AND entry_id IN ({placeholders(len(chunk))})",
                [tag_id, *chunk],
            )
        )
    return having


def update_from_values(table: str, assignments: str, rows: Sequence[tuple], width: int) -> None:
    """UPDATE `table` SET `assignments` FROM (VALUES …) AS v WHERE id = v.column1, chunked.

    SQLite ≥ 3.33 and PostgreSQL alike run it, and both call the VALUES
    columns column1…; each row gives `width` values, its id first.
    """
    marks = f"({placeholders(width)})"
    for chunk in chunked(rows, ROW_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments}"
                f" FROM (VALUES {', '.join([marks] * len(chunk))}) AS v"
                f" WHERE {table}.id = v.column1",
                [value for row in chunk for value in row],
            )


def entry_tag_rows(where: str, params: list) -> list[tuple]:
    """(entry_id, id, tag_id, position, source, confidence) of the SessionImageTag rows
    matching `where` (alias `it`), in caption order."""
    return fetch(
        "SELECT it.entry_id, it.id, it.tag_id, it.position, it.source, it.confidence"
        f" FROM {SessionImageTag._meta.db_table} it {where}"
        " ORDER BY it.entry_id, it.position, it.id",
        params,
    )


def tag_append(tag_id: int, entry_ids: Sequence[int], *, source: str, added_by, now) -> None:
    """Append the tag after the last tag of each session image lacking it: one INSERT … SELECT.

    The position is computed by the database, so no row is read into Python.
    `now` is prepared for the column already (tagger_project.db.db_now).
    """
    table = SessionImageTag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (entry_id, tag_id, position, source, added_by_id, created_at)
            SELECT si.id, %s,
                   COALESCE((SELECT MAX(it.position) FROM {table} it
                             WHERE it.entry_id = si.id), -1) + 1,
                   %s, %s, %s
            FROM {SessionImage._meta.db_table} si
            WHERE si.id IN ({placeholders(len(entry_ids))})
              AND NOT EXISTS (SELECT 1 FROM {table} ex
                              WHERE ex.entry_id = si.id AND ex.tag_id = %s)
            """,
            [tag_id, source, added_by, now, *entry_ids, tag_id],
        )


def caption_rows(entry_ids: Sequence[int], *, labelled: bool = False) -> list[tuple]:
    """Each session image's (id, version, tag id, source) in caption order, one row with
    no tag for an untagged one; `labelled` adds each tag's name and category (a join).
    What sessions_app/captions.py reads: the version and rows in one statement."""
    quote = connection.ops.quote_name
    entry, entry_tag = quote(SessionImage._meta.db_table), quote(SessionImageTag._meta.db_table)
    columns, join = "", ""
    if labelled:
        columns = ", t.name, t.category"
        join = f" LEFT JOIN {quote(Tag._meta.db_table)} t ON t.id = it.tag_id"
    return fetch(
        f"SELECT si.id, si.version, it.tag_id, it.source{columns} FROM {entry} si"
        f" LEFT JOIN {entry_tag} it ON it.entry_id = si.id{join}"
        f" WHERE si.id IN ({placeholders(len(entry_ids))})"
        " ORDER BY si.id, it.position, it.id",
        list(entry_ids),
    )


def _page_sql(*, status: bool, where: str, after: bool) -> str:
    """The page read: the session entry and the image columns a list item shows.

    The image's metadata stays out: generator metadata (prompts, whole node-graph
    workflows) runs to kilobytes per image, and GET /api/images/{id} has it.
    """
    quote = connection.ops.quote_name
    entry, image = quote(SessionImage._meta.db_table), quote(Image._meta.db_table)
    return (
        "SELECT si.id, si.position, si.status, si.image_id, i.width, i.height, si.version,"
        # The session's name for the image; the library's for a row made without one.
        " CASE WHEN si.original_name = '' THEN i.original_name ELSE si.original_name END,"
        f" i.format, i.byte_size FROM {entry} si"
        f" JOIN {image} i ON i.id = si.image_id WHERE si.session_id = %s"
        + (" AND si.status = %s" if status else "")
        + f" AND {where}"
        # A range on position that the (session, position) index can serve, minus
        # the rows of the last position already shown.
        + (" AND si.position >= %s AND NOT (si.position = %s AND si.id <= %s)" if after else "")
        + " ORDER BY si.position, si.id LIMIT %s"
    )


def session_page_rows(*, status: bool, where: str, after: bool, params: list) -> list[tuple]:
    """The rows of one page of the session's images (selectors.images_for_session)."""
    return fetch(_page_sql(status=status, where=where, after=after), params)


def session_image_ids_where(session_id: int, where: str, params: list) -> list[int]:
    """The session's image ids whose entry (alias `si`) matches `where`."""
    table = connection.ops.quote_name(SessionImage._meta.db_table)
    return _column(
        f"SELECT si.image_id FROM {table} si WHERE si.session_id = %s AND {where}",
        [session_id, *params],
    )


def member_role(session_id: int, user_id: int) -> str | None:
    """The user's role in the session, or None: every request to a session's images asks.

    Raw, kept so because the figures favour it (bench/permission_bench.py, one
    run on the 2-core VM): raw ~13 µs, the ORM's .first() ~250 µs and with
    .order_by()[:1] ~150 µs, a bare SELECT 1 ~6 µs. bench/api_bench.py's page
    reads ask it each time.
    """
    table = connection.ops.quote_name(SessionMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT role FROM {table} WHERE session_id = %s AND user_id = %s",
            [session_id, user_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None
