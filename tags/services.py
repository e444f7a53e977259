"""Vocabulary services: resolving names to tags, aliases and implications.

Changes to the tags *on images* are session edits and live in
`sessions_app.services`, which log and broadcast them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from tagger_project.db import chunked
from tagger_project.errors import Conflict, InvalidInput
from tags.models import Tag, TagAlias, TagCategory, TagImplication
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.sql import aliases_insert, tags_upsert
from tags.vocabulary import VocabularyProblem, VocabularyRow


def tags_get_or_create(
    names: list[str], *, categories: Mapping[str, str] | None = None
) -> dict[str, Tag]:
    """Return Tag rows for already-resolved names, in the order given, creating missing ones.

    `categories` gives the category of a name that has to be created (general
    otherwise); an existing tag keeps its own.
    """
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    wanted = categories or {}
    missing = [
        Tag(name=name, category=wanted.get(name, TagCategory.GENERAL))
        for name in names
        if name not in existing
    ]
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


@dataclass
class VocabularyResult:
    """What `vocabulary_import` did; `problems` name the file's lines."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    aliases_created: int = 0
    tags_replaced_by_aliases: int = 0
    # Existing tags whose category differs from the file's and was kept (each also a problem).
    categories_kept: int = 0
    problems: list[VocabularyProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "aliases_created": self.aliases_created,
            "tags_replaced_by_aliases": self.tags_replaced_by_aliases,
            "categories_kept": self.categories_kept,
            "problems": [problem.as_dict() for problem in self.problems],
        }


@transaction.atomic
def vocabulary_import(
    rows: Iterable[VocabularyRow], *, update_categories: bool = False, actor=None
) -> VocabularyResult:
    """Create or update tags (category, popularity) and their aliases, set-based.

    Names are normalized. A row whose name is an existing alias, an alias that
    is a tag in use or an alias of another tag, and duplicates are skipped and
    reported with their line; everything else is written in one transaction.

    An existing tag takes the file's category only while it is `general` (what
    a tag first used in a caption gets), unless `update_categories`: another
    booru's file (e621's `species` for danbooru's characters) or a curator's
    choice is otherwise kept, and each kept difference is reported.
    """
    result = VocabularyResult()
    entries, alias_rows = _vocabulary_entries(rows, result.problems)
    _drop_alias_names(entries, result.problems)
    _upsert_vocabulary_tags(entries, result, update_categories=update_categories)
    _create_vocabulary_aliases(entries, alias_rows, result)
    result.problems.sort(key=lambda problem: problem.line)
    return result


def _vocabulary_entries(
    rows: Iterable[VocabularyRow], problems: list[VocabularyProblem]
) -> tuple[dict[str, VocabularyRow], list[tuple[str, str, int]]]:
    """Normalize names; first row per name wins. Returns entries and (alias, tag, line)."""
    entries: dict[str, VocabularyRow] = {}
    alias_rows: list[tuple[str, str, int]] = []
    for row in rows:
        try:
            name = normalize_tag_name(row.name)
        except InvalidTagName as error:
            problems.append(VocabularyProblem(row.line, error.message))
            continue
        if name in entries:
            first = entries[name].line
            problems.append(VocabularyProblem(row.line, f"{name!r} repeats line {first}"))
            continue
        entries[name] = row
        for raw_alias in row.aliases:
            try:
                alias = normalize_tag_name(raw_alias)
            except InvalidTagName as error:
                problems.append(VocabularyProblem(row.line, f"alias skipped: {error.message}"))
                continue
            if alias != name:
                alias_rows.append((alias, name, row.line))
    return entries, alias_rows


def _drop_alias_names(entries: dict[str, VocabularyRow], problems: list) -> None:
    """A tag named like an existing alias would never be reached: skip and report it."""
    for chunk in chunked(list(entries)):
        for alias, target in TagAlias.objects.filter(name__in=chunk).values_list(
            "name", "tag__name"
        ):
            line = entries.pop(alias).line
            problems.append(
                VocabularyProblem(line, f"{alias!r} is an alias of {target!r}; row skipped")
            )


def _upsert_vocabulary_tags(
    entries: dict[str, VocabularyRow], result: VocabularyResult, *, update_categories: bool
) -> None:
    existing: dict[str, tuple[str, int]] = {}
    for chunk in chunked(list(entries)):
        for name, category, popularity in Tag.objects.filter(name__in=chunk).values_list(
            "name", "category", "popularity"
        ):
            existing[name] = (category, popularity)
    changed = []
    for name, row in entries.items():
        before = existing.get(name)
        category = row.category
        if before is not None and _keeps_category(before[0], category, update_categories):
            category = before[0]
            result.categories_kept += 1
            result.problems.append(
                VocabularyProblem(
                    row.line,
                    f"{name!r} keeps its category {str(category)!r} (the file says "
                    f"{str(row.category)!r}; update categories to apply it)",
                )
            )
        if before == (category, row.count):
            result.unchanged += 1
            continue
        if before is None:
            result.created += 1
        else:
            result.updated += 1
        changed.append((name, category, row.count))
    tags_upsert(changed)


def _keeps_category(current: str, wanted: str, update_categories: bool) -> bool:
    return current != wanted and current != TagCategory.GENERAL and not update_categories


def _create_vocabulary_aliases(
    entries: dict[str, VocabularyRow],
    alias_rows: list[tuple[str, str, int]],
    result: VocabularyResult,
) -> None:
    problems = result.problems
    wanted: dict[str, tuple[str, int]] = {}
    for alias, target, line in alias_rows:
        if target not in entries:
            continue  # the row itself was skipped and reported
        if alias in entries:
            problems.append(VocabularyProblem(line, f"alias {alias!r} is a tag of its own"))
        elif alias in wanted and wanted[alias][0] != target:
            other = wanted[alias]
            problems.append(
                VocabularyProblem(
                    line, f"alias {alias!r} already names {other[0]!r} (line {other[1]})"
                )
            )
        else:
            wanted.setdefault(alias, (target, line))
    names = list(wanted)
    for chunk in chunked(names):
        for alias, target in TagAlias.objects.filter(name__in=chunk).values_list(
            "name", "tag__name"
        ):
            want, line = wanted.pop(alias)
            if want != target:
                problems.append(
                    VocabularyProblem(line, f"alias {alias!r} is already an alias of {target!r}")
                )
    _replace_unused_tags(wanted, result)
    targets = sorted({target for target, _ in wanted.values()})
    ids: dict[str, int] = {}
    for chunk in chunked(targets):
        ids.update(Tag.objects.filter(name__in=chunk).values_list("name", "pk"))
    aliases_insert([(alias, ids[target]) for alias, (target, _) in wanted.items()])
    result.aliases_created += len(wanted)


def _replace_unused_tags(wanted: dict[str, tuple[str, int]], result: VocabularyResult) -> None:
    """An alias may replace a tag nobody uses (as alias_create does); a tag in use is kept."""
    doomed: list[int] = []
    for chunk in chunked(list(wanted)):
        clashes = Tag.objects.filter(name__in=chunk).annotate(
            aliased=Exists(TagAlias.objects.filter(tag=OuterRef("pk"))),
            implies=Exists(
                TagImplication.objects.filter(Q(tag=OuterRef("pk")) | Q(implied=OuterRef("pk")))
            ),
        )
        for tag in clashes:
            if tag.image_count or tag.aliased or tag.implies:
                line = wanted.pop(tag.name)[1]
                why = "on images" if tag.image_count else "with aliases or implications"
                result.problems.append(
                    VocabularyProblem(line, f"alias {tag.name!r} is a tag {why}; merge it instead")
                )
            else:
                doomed.append(tag.pk)
    for chunk in chunked(doomed):
        Tag.objects.filter(pk__in=chunk).delete()
    result.tags_replaced_by_aliases += len(doomed)


@transaction.atomic
def tag_categories_set(categories: dict[str, str]) -> int:
    """Set the category of many tags at once (canonical names → category); returns rows changed.

    Unknown categories are refused before anything is written; names that are
    not tags are ignored. One UPDATE per category and chunk of names.
    """
    unknown = sorted(set(categories.values()) - set(TagCategory.values))
    if unknown:
        raise InvalidInput(
            f"unknown category {unknown[0]!r}", details=[{"allowed": TagCategory.values}]
        )
    by_category: dict[str, list[str]] = {}
    for name, category in categories.items():
        by_category.setdefault(category, []).append(name)
    changed = 0
    for category, names in by_category.items():
        for chunk in chunked(names):
            changed += (
                Tag.objects.filter(name__in=chunk)
                .exclude(category=category)
                .update(category=category)
            )
    return changed


@transaction.atomic
def tags_describe(entries: Mapping[str, tuple[int, str]]) -> int:
    """Set the popularity and description of many tags (canonical name → both); rows changed.

    For a restore, which calls it only on the tags it created. Names that are
    not tags are ignored.
    """
    names = list(entries)
    changed: list[Tag] = []
    for chunk in chunked(names):
        for tag in Tag.objects.filter(name__in=chunk):
            popularity, description = entries[tag.name]
            if (tag.popularity, tag.description) != (popularity, description):
                tag.popularity, tag.description = popularity, description
                changed.append(tag)
    Tag.objects.bulk_update(changed, ["popularity", "description"], batch_size=500)
    return len(changed)
