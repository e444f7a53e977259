"""Reads behind the session endpoints: pages of images, counts, the event log.

Lists use keyset pagination (an opaque cursor holding the last row's sort
key), so a deep page costs what the first one does.
"""

from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q

from images.models import Image
from sessions_app.captions import Caption, image_captions
from sessions_app.events import serialize_event
from sessions_app.models import (
    ImageStatus,
    SessionEvent,
    SessionImage,
    SessionImageTag,
    SessionMember,
    SessionSubset,
    TaggingSession,
)
from sessions_app.permissions import sessions_visible_to
from sessions_app.sql import entries_in_session, session_image_ids_where, session_page_rows
from tagger_project.errors import InvalidInput, NotFound
from tags.labels import current_vocabulary
from tags.models import TagSource
from tags.query import TagRows, compile_query, parse

# --- cursors --------------------------------------------------------------------


def encode_cursor(*parts: int) -> str:
    """The last row's keys, dot-separated: tagger_project.schemas states the shapes."""
    return ".".join(str(part) for part in parts)


def decode_cursor(cursor: str, size: int) -> list[int]:
    """The integers a cursor holds; InvalidInput when it was not made by encode_cursor."""
    parts = cursor.split(".")
    if len(parts) != size or not all(part.isascii() and part.isdigit() for part in parts):
        raise InvalidInput("invalid cursor", details=[{"cursor": cursor[:100]}])
    values = [int(part) for part in parts]
    if any(value > 2**62 for value in values):
        raise InvalidInput("invalid cursor", details=[{"cursor": cursor[:100]}])
    return values


# --- sessions ---------------------------------------------------------------------


def sessions_page(user, *, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    """The user's sessions, newest first, with their role in each."""
    sessions = sessions_visible_to(user).select_related("owner").order_by("-id")
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        sessions = sessions.filter(id__lt=last_id)
    rows = list(sessions[: limit + 1])
    roles = dict(
        SessionMember.objects.filter(user=user, session__in=[s.pk for s in rows]).values_list(
            "session_id", "role"
        )
    )
    items = [session_shape(session, roles.get(session.pk, "")) for session in rows[:limit]]
    more = len(rows) > limit
    return items, encode_cursor(rows[limit - 1].pk) if more else None


def session_shape(session: TaggingSession, role: str) -> dict[str, Any]:
    return {
        "id": session.pk,
        "name": session.name,
        "description": session.description,
        "owner": session.owner.get_username(),
        "role": role,
        "trigger_word": session.trigger_word,
        "separator": session.separator,
        "use_underscores": session.use_underscores,
        "escape_parentheses": session.escape_parentheses,
        "last_seq": session.last_seq,
        "created_at": session.created_at,
    }


def session_members(session: TaggingSession) -> list[dict]:
    rows = SessionMember.objects.filter(session=session).order_by("user__username")
    return [{"username": u, "role": r} for u, r in rows.values_list("user__username", "role")]


def session_member_named(session: TaggingSession, username: str):
    """The member of the session with this username; NotFound for anyone else, user or not."""
    member = (
        SessionMember.objects.filter(session=session, user__username=username)
        .select_related("user")
        .first()
    )
    if member is None:
        raise NotFound(f"no member called {username!r} in this session")
    return member.user


def session_progress(session: TaggingSession) -> dict[str, int]:
    """How many images the session holds per status (one indexed GROUP BY)."""
    counts = dict.fromkeys(ImageStatus.values, 0)
    rows = (
        SessionImage.objects.filter(session=session)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    return {"total": sum(counts.values()), **counts}


# --- images -----------------------------------------------------------------------

# The query language tests a session image's own tag rows.
SESSION_TAG_ROWS = TagRows(
    table=SessionImageTag._meta.db_table,
    key="entry_id",
    universe=SessionImage._meta.db_table,
)
# How a session's queries name what they filter on: its image list is read as `si`.
SESSION_QUERY_COLUMNS: dict[str, Any] = {
    "tag_rows": SESSION_TAG_ROWS,
    "image_column": "si.id",
    "status_column": "si.status",
    "statuses": ImageStatus.values,
    "caption_column": "si.caption",
    "subset_column": ("si.subset_id", SessionSubset._meta.db_table),
}


def image_shape(
    image: Image,
    *,
    caption: Caption,
    status: str | None,
    position: int | None = None,
    original_name: str = "",
) -> dict[str, Any]:
    """One image as GET /api/sessions/{id}/images/{image_id} answers it: the list item
    plus its metadata.

    `caption`: the session image's (version, tags) from sessions_app.captions.
    """
    version, tags = caption
    item = _list_item(
        image.pk,
        status=status,
        position=position,
        width=image.width,
        height=image.height,
        version=version,
        original_name=original_name or image.original_name,
        format=image.format,
        byte_size=image.byte_size,
        tags=tags,
    )
    item["metadata"] = image.metadata
    return item


def _list_item(image_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": image_id,
        **fields,
        "file_url": f"/api/images/{image_id}/file",
        "thumbnail_url": f"/api/images/{image_id}/thumbnail",
    }


def _row_item(row: tuple, caption: Caption) -> dict[str, Any]:
    _, position, status, image_id, width, height, _, original_name, format_, size = row
    version, tags = caption
    return _list_item(
        image_id,
        status=status,
        position=position,
        width=width,
        height=height,
        version=version,
        original_name=original_name,
        format=format_,
        byte_size=size,
        tags=tags,
    )


def images_for_session(
    session: TaggingSession | int,
    *,
    query: str | None,
    status: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict], str | None]:
    """A page of the session's images matching the query, in session order.

    Queries: the query's tags (if any), the page, the vocabulary counter, and
    the tags of the images sessions_app.captions does not hold at their version.

    Raw SQL: building the page query through the ORM (a Q of EXISTS subqueries,
    the join, the keyset range) cost ~0.85 ms a request, more than running it.
    """
    session_id = session if isinstance(session, int) else session.pk
    node = parse(query or "")
    where, where_params = compile_query(
        node,
        **SESSION_QUERY_COLUMNS,
        wanted=limit + 1,
    )
    after = decode_cursor(cursor, 2) if cursor else None
    params = [session_id, *([status] if status else []), *where_params]
    if after:
        position, entry_id = after
        params += [position, position, entry_id]
    params.append(limit + 1)
    rows = session_page_rows(status=bool(status), where=where, after=bool(after), params=params)
    page = rows[:limit]
    captions = image_captions([(row[0], row[6]) for row in page])
    # An image deleted since the page was read shows no tags.
    items = [_row_item(row, captions.get(row[0], (row[6], []))) for row in page]
    more = len(rows) > limit
    return items, encode_cursor(page[-1][1], page[-1][0]) if more else None


def session_image_ids(session: TaggingSession, *, query: str) -> list[int]:
    """Every image of the session matching the query: the batch selection."""
    where, params = compile_query(
        parse(query),
        **SESSION_QUERY_COLUMNS,
    )
    return session_image_ids_where(session.pk, where, params)


def selection_image_ids(
    session: TaggingSession, *, q: str | None, image_ids: list[int] | None
) -> list[int]:
    """The images a batch acts on: those matching `q`, else the given ids the session holds."""
    if q is not None:
        return session_image_ids(session, query=q)
    wanted = list(dict.fromkeys(image_ids or []))
    held = entries_in_session(session.pk, wanted)
    return [image_id for image_id in wanted if image_id in held]


def image_detail(session: TaggingSession | int, image_id: int) -> dict[str, Any]:
    """One image of the session with this session's caption-ordered tags and status.

    NotFound when the session does not hold the image: the caller checked the
    membership, so this is what keeps every session's caption its own.
    """
    session_id = session if isinstance(session, int) else session.pk
    entry = (
        SessionImage.objects.filter(session_id=session_id, image_id=image_id)
        .select_related("image")
        .first()
    )
    if entry is None:
        raise NotFound(f"image {image_id} is not in this session")
    caption = image_captions([(entry.pk, entry.version)]).get(entry.pk, (entry.version, []))
    shape = image_shape(
        entry.image,
        caption=caption,
        status=entry.status,
        position=entry.position,
        original_name=entry.original_name,
    )
    shape["caption"] = entry.caption
    shape["caption_version"] = entry.caption_version
    shape["subset_id"] = entry.subset_id
    return shape


# --- tags and events -----------------------------------------------------------------


def session_tag_counts(session: TaggingSession, *, limit: int) -> list[dict]:
    """The session's tags with how many images carry each in their caption, most used first.

    A GROUP BY over every tag row of the session, so the answer is cached per
    `last_seq` and vocabulary generation (tags.labels): every edit in the
    session moves the first, and a rename or category change the second. An
    unchanged session is answered from memory. Inside a transaction nothing
    is cached: its edits may yet roll back.
    """
    generation = current_vocabulary().generation
    key = f"session-tag-counts:{session.pk}:{session.last_seq}:{generation}:{limit}"
    cached = cache.get(key) if generation is not None else None
    if cached is not None:
        return cached
    rows = (
        SessionImageTag.objects.filter(entry__session=session)
        .values("tag__name", "tag__category")
        # A suggestion is not in the caption until accepted: it counts nowhere. Counted
        # conditionally, not filtered out, so the scan stays the index-only one it was.
        .annotate(n=Count("id", filter=~Q(source=TagSource.SUGGESTION)))
        .filter(n__gt=0)
        .order_by("-n", "tag__name")[:limit]
    )
    counts = [
        {"name": row["tag__name"], "category": row["tag__category"], "count": row["n"]}
        for row in rows
    ]
    if generation is not None:
        cache.set(key, counts, timeout=600)
    return counts


def events_after(
    session: TaggingSession, *, after: int, limit: int
) -> tuple[list[dict], str | None]:
    """Log entries with seq > after, oldest first, as the same frames the socket sends."""
    events = list(
        SessionEvent.objects.filter(session=session, seq__gt=after)
        .select_related("actor")
        .order_by("seq")[: limit + 1]
    )
    items = [serialize_event(event) for event in events[:limit]]
    more = len(events) > limit
    return items, str(items[-1]["seq"]) if more else None


# --- subsets ---------------------------------------------------------------------------


def session_subsets(session: TaggingSession | int) -> dict[str, Any]:
    """The session's subsets in order with how many images each holds, and those in none."""
    session_id = session if isinstance(session, int) else session.pk
    counts: dict[int | None, int] = dict(
        SessionImage.objects.filter(session_id=session_id)
        .values_list("subset_id")
        .annotate(n=Count("id"))
        .values_list("subset_id", "n")
    )
    items = [
        {
            "id": subset.pk,
            "name": subset.name,
            "num_repeats": subset.num_repeats,
            "class_tokens": subset.class_tokens,
            "folder": subset.folder,
            "images": counts.get(subset.pk, 0),
        }
        for subset in SessionSubset.objects.filter(session_id=session_id).order_by("id")
    ]
    return {"items": items, "unassigned": counts.get(None, 0)}
