"""Reads of the tag vocabulary."""

from collections.abc import Iterable

from django.db import connection
from django.db.models import Q, QuerySet

from tags.models import ImageTag, Tag, TagAlias
from tags.normalize import normalize_tag_name


def resolve_tag_names(raw_names: Iterable[str]) -> list[str]:
    """Normalize names and resolve aliases, keeping first-seen order without duplicates.

    Raises InvalidTagName for the first name that cannot be normalized.
    """
    normalized = list(dict.fromkeys(normalize_tag_name(raw) for raw in raw_names))
    aliases = dict(TagAlias.objects.filter(name__in=normalized).values_list("name", "tag__name"))
    return list(dict.fromkeys(aliases.get(name, name) for name in normalized))


def resolve_tag_map(normalized_names: Iterable[str]) -> dict[str, str]:
    """Map already-normalized names to their canonical names (aliases resolved), in one query."""
    names = list(dict.fromkeys(normalized_names))
    aliases = dict(TagAlias.objects.filter(name__in=names).values_list("name", "tag__name"))
    return {name: aliases.get(name, name) for name in names}


def tag_list_for_image(image_id: int) -> list[dict]:
    """The image's tags in caption order, shaped for clients."""
    rows = (
        ImageTag.objects.filter(image_id=image_id)
        .order_by("position", "id")
        .values_list("tag__name", "tag__category", "source", "confidence")
    )
    return [
        {"name": name, "category": category, "source": source, "confidence": confidence}
        for name, category, source, confidence in rows
    ]


def tag_by_name(name: str) -> Tag | None:
    """The tag called `name` (normalized, aliases resolved), or None."""
    (canonical,) = resolve_tag_names([name])
    return Tag.objects.filter(name=canonical).first()


def tags_autocomplete(*, prefix: str, category: str | None, limit: int) -> QuerySet[Tag]:
    """Tags whose name starts with the prefix, most used first."""
    # A range on the unique index drives the search: LIKE cannot use it on
    # SQLite (case-insensitive) nor on PostgreSQL (no pattern ops), and a scan
    # of a 100k-tag imported vocabulary costs ~15 ms. startswith keeps it exact.
    tags = Tag.objects.filter(name__gte=prefix, name__lt=prefix + "\U0010ffff")
    tags = tags.filter(name__startswith=prefix)
    if category:
        tags = tags.filter(category=category)
    return tags.order_by("-image_count", "-popularity", "name")[:limit]


def _prefix_filter(field: str, prefix: str) -> Q:
    """Names starting with `prefix`, as a range the unique index can serve on SQLite."""
    starts = Q(**{f"{field}__startswith": prefix})
    if connection.vendor != "sqlite":
        return starts
    # SQLite compares BINARY, so [prefix, prefix + U+10FFFF) is exactly the
    # names with that prefix; LIKE alone cannot use the index.
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"}) & starts


def tags_complete(*, prefix: str, category: str | None, limit: int) -> list[dict]:
    """Autocomplete: tags and aliases starting with the (normalized) prefix, most used first.

    An alias match answers its canonical tag (with `alias` set); each tag appears once.
    """
    tags = Tag.objects.filter(_prefix_filter("name", prefix))
    aliases = TagAlias.objects.filter(_prefix_filter("name", prefix))
    if category:
        tags = tags.filter(category=category)
        aliases = aliases.filter(tag__category=category)
    order = ("-image_count", "-popularity", "name")
    fields = ("name", "category", "image_count", "popularity")
    found = {
        row["name"]: {**row, "alias": None} for row in tags.order_by(*order)[:limit].values(*fields)
    }
    alias_rows = aliases.order_by("-tag__image_count", "-tag__popularity", "tag__name")
    for row in alias_rows[:limit].values("name", *(f"tag__{field}" for field in fields)):
        entry = {field: row[f"tag__{field}"] for field in fields}
        found.setdefault(entry["name"], {**entry, "alias": row["name"]})
    ranked = sorted(found.values(), key=lambda t: (-t["image_count"], -t["popularity"], t["name"]))
    return [
        {key: t[key] for key in ("name", "category", "image_count", "alias")}
        for t in ranked[:limit]
    ]
