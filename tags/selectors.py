"""Reads of the tag vocabulary."""

from collections.abc import Iterable

from tagger_project.errors import NotFound
from tags.models import Tag, TagAlias
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


def tag_by_name(name: str) -> Tag | None:
    """The tag called `name` (normalized, aliases resolved), or None."""
    (canonical,) = resolve_tag_names([name])
    return Tag.objects.filter(name=canonical).first()


def tag_named(name: str) -> Tag:
    """The tag called `name` (normalized, aliases resolved); NotFound when there is none."""
    tag = tag_by_name(name)
    if tag is None:
        raise NotFound(f"no tag called {name!r}")
    return tag


def vocabulary_loaded() -> bool:
    """True once a vocabulary was imported: only an import gives tags a popularity."""
    return Tag.objects.filter(popularity__gt=0).exists()
