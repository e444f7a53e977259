"""Vocabulary services: resolving names to tags, aliases and implications.

Changes to the tags *on images* are session edits and live in
`sessions_app.services`, which log and broadcast them.
"""

from collections.abc import Iterable

from django.db import transaction

from tagger_project.errors import Conflict, InvalidInput
from tags.models import Tag, TagAlias, TagCategory, TagImplication
from tags.normalize import normalize_tag_name


def tags_get_or_create(names: list[str]) -> dict[str, Tag]:
    """Return Tag rows for already-resolved names, in the order given, creating missing ones."""
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return {name: existing[name] for name in names}


def implied_closure(tag_ids: Iterable[int]) -> list[int]:
    """Every tag implied, directly or transitively, by the given tags (excluding them)."""
    seen = set(tag_ids)
    frontier = set(seen)
    implied: list[int] = []
    while frontier:
        step = TagImplication.objects.filter(tag_id__in=frontier).values_list(
            "implied_id", flat=True
        )
        frontier = {tag_id for tag_id in step if tag_id not in seen}
        seen |= frontier
        implied.extend(sorted(frontier))
    return implied


@transaction.atomic
def tag_set_category(tag: Tag, *, category: str) -> Tag:
    """Change a tag's category."""
    if category not in TagCategory.values:
        raise InvalidInput(
            f"unknown category {category!r}", details=[{"allowed": TagCategory.values}]
        )
    tag.category = category
    tag.save(update_fields=["category"])
    return tag


@transaction.atomic
def tag_create(name: str, *, category: str = TagCategory.GENERAL, description: str = "") -> Tag:
    """Create a tag ahead of its use. Refused when the name is a tag or an alias."""
    tag_name = normalize_tag_name(name)
    if category not in TagCategory.values:
        raise InvalidInput(
            f"unknown category {category!r}", details=[{"allowed": TagCategory.values}]
        )
    if Tag.objects.filter(name=tag_name).exists():
        raise Conflict(f"a tag called {tag_name!r} exists")
    alias = TagAlias.objects.filter(name=tag_name).select_related("tag").first()
    if alias is not None:
        raise Conflict(f"{tag_name!r} is an alias of {alias.tag.name!r}")
    return Tag.objects.create(name=tag_name, category=category, description=description)


@transaction.atomic
def tag_set_description(tag: Tag, *, description: str) -> Tag:
    """Change a tag's description (free text for curators)."""
    tag.description = description
    tag.save(update_fields=["description"])
    return tag


def alias_check(tag: Tag, *, name: str) -> str:
    """Return the normalized alias name, or raise why `name` cannot become an alias of `tag`.

    The validate half of `alias_create`, for doors that show errors before writing.
    """
    alias_name = normalize_tag_name(name)
    if alias_name == tag.name:
        raise InvalidInput(f"{alias_name!r} is already the tag's own name")
    if TagAlias.objects.filter(name=alias_name).exists():
        raise Conflict(f"{alias_name!r} is already an alias")
    if TagAlias.objects.filter(name=tag.name).exists():
        raise Conflict(f"{tag.name!r} is itself an alias; alias to its canonical tag")
    clash = Tag.objects.filter(name=alias_name).first()
    if clash is not None and clash.image_count:
        raise Conflict(f"{alias_name!r} is a tag on {clash.image_count} images; merge it instead")
    return alias_name


@transaction.atomic
def alias_create(tag: Tag, *, name: str) -> TagAlias:
    """Make `name` resolve to `tag`. Refused when `name` is a tag in use or an alias."""
    alias_name = alias_check(tag, name=name)
    # An unused tag of that name is only a stale vocabulary entry: the alias replaces it.
    Tag.objects.filter(name=alias_name).delete()
    return TagAlias.objects.create(name=alias_name, tag=tag)


@transaction.atomic
def alias_delete(alias: TagAlias) -> None:
    """Stop resolving the alias; tags on images are unaffected."""
    alias.delete()


def implication_check(tag: Tag, *, implied: Tag) -> None:
    """Raise why `tag` cannot imply `implied` (itself, or a cycle); the validate half."""
    if tag.pk == implied.pk:
        raise InvalidInput("a tag cannot imply itself")
    if tag.pk in implied_closure([implied.pk]):
        raise Conflict(f"{implied.name!r} already implies {tag.name!r}: that would be a cycle")


@transaction.atomic
def implication_create(tag: Tag, *, implied: Tag) -> TagImplication:
    """Make adding `tag` also add `implied`. Cycles are refused."""
    implication_check(tag, implied=implied)
    implication, _ = TagImplication.objects.get_or_create(tag=tag, implied=implied)
    return implication


@transaction.atomic
def implication_delete(implication: TagImplication) -> None:
    """Stop applying the implication to future additions; existing tags stay."""
    implication.delete()
