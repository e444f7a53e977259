"""The helpers every app's raw SQL module shares (sessions_app/sql.py, tags/sql.py).

One chunk size for IN (…) lists and one for multi-row statements keep every
statement well under SQLite's 32,766 and PostgreSQL's 65,535 parameters, and
one INSERT writes what bulk_create would, on both databases alike.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

# Ids or names per IN (…) list.
ID_CHUNK = 5000
# Rows per multi-row INSERT or UPDATE … FROM (VALUES …): a handful of columns each.
ROW_CHUNK = 1000


def db_now(model, field: str = "created_at") -> Any:
    """The current time as the ORM would store it in `model.field`.

    Raw SQL must not pass `timezone.now()` as is: SQLite would keep the aware
    datetime as "…+00:00" text, which exact lookups and comparisons with the
    ORM's own naive UTC text then miss.
    """
    return model._meta.get_field(field).get_db_prep_save(timezone.now(), connection)


def placeholders(count: int) -> str:
    """`count` parameter marks for a raw IN list or VALUES row: "%s, %s, …"."""
    return ", ".join(["%s"] * count)


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


def _concrete(model: type[models.Model], name: str) -> models.Field:
    """The model's field `name`, which must be a column of its table."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    on_conflict: str = "",
    **same: Any,
) -> None:
    """Insert what bulk_create would: each row's values in ``fields`` order, plus ``same``.

    Per-row values go in as given, so they must be what the database stores
    (ids, integers, strings); the shared values are prepared once by their
    field, as the ORM would (a datetime, a user's pk). Every column but the
    primary key needs a value: a new field fails here instead of missing a
    default only the ORM knows. ``on_conflict`` ends each statement (an
    upsert's `ON CONFLICT …`, which SQLite ≥ 3.24 and PostgreSQL both take);
    one statement must then not hold the same key twice.
    """
    meta = model._meta
    columns = [_concrete(model, name).column or "" for name in (*fields, *same)]
    unset = {f.column for f in meta.concrete_fields if not f.primary_key and f.column}
    unset -= set(columns)
    if unset:
        raise ValueError(f"{meta.label}: no value for {', '.join(sorted(unset))}")
    shared = [_concrete(model, name).get_db_prep_save(v, connection) for name, v in same.items()]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(column) for column in columns)})"
    marks = f"({placeholders(len(columns))})"
    for chunk in chunked(rows, ROW_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                f"{head} VALUES {', '.join([marks] * len(chunk))} {on_conflict}".rstrip(),
                [value for row in chunk for value in (*row, *shared)],
            )
