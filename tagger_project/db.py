"""Small helpers for the project's raw SQL."""

from typing import Any

from django.db import connection
from django.utils import timezone


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
