"""Tag rules: the one implementation of blacklist, pinned head and category order.

`apply_rules` is pure and works on anything that has a tag name and a
category, so the edit services (tag ids), the import (new rows) and the
export (names) order a caption the same way. The rest of this module reads
and validates rules; changing them is `sessions_app.services.rules`.

An image can sit in several sessions, each with its own tag list (the rows
hang on the session image), so every edit obeys the rules of the one session
it is made in, and export those of the exported session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from sessions_app.models import SessionRules
from tagger_project.errors import InvalidInput
from tags.models import Tag, TagCategory
from tags.normalize import normalize_tag_name
from tags.selectors import resolve_tag_map

T = TypeVar("T")

MAX_BLACKLIST = 1000
MAX_PINNED = 50


@dataclass(frozen=True)
class TagRules:
    """A session's rules, with canonical tag names."""

    blacklist: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()
    category_order: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.blacklist or self.pinned or self.category_order)

    def sort_key(self, name: str, category: str) -> tuple[int, int] | None:
        """Where a tag goes: None when blacklisted, else a key to sort a caption by (stably)."""
        if name in self._banned:
            return None
        pinned = self._pin_rank.get(name)
        if pinned is not None:
            return (0, pinned)
        return (1, self._category_rank.get(category, len(self.category_order)))

    @cached_property
    def _banned(self) -> frozenset[str]:
        return frozenset(self.blacklist)

    @cached_property
    def _pin_rank(self) -> dict[str, int]:
        return {pinned: rank for rank, pinned in enumerate(self.pinned)}

    @cached_property
    def _category_rank(self) -> dict[str, int]:
        return {value: rank for rank, value in enumerate(self.category_order)}

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "blacklist": list(self.blacklist),
            "pinned": list(self.pinned),
            "category_order": list(self.category_order),
        }


NO_RULES = TagRules()


def apply_rules(
    items: Sequence[T],
    rules: TagRules,
    *,
    name: Callable[[T], str],
    category: Callable[[T], str],
) -> list[T]:
    """Drop blacklisted tags, put pinned ones first (rule order), sort the rest by category.

    The sort is stable: within a category (and for categories the order does
    not name, which go last) tags keep their caption order.
    """
    keys = [rules.sort_key(name(item), category(item)) for item in items]
    kept = [(key, item) for key, item in zip(keys, items, strict=True) if key is not None]
    if rules.pinned or rules.category_order:
        kept.sort(key=lambda pair: pair[0])
    return [item for _, item in kept]


def apply_rules_to_ids(entries: Sequence[T], rules: TagRules, *, tag_id: Callable[[T], int]):
    """apply_rules over entries keyed by tag id: one query for the names and categories."""
    if rules.empty or not entries:
        return list(entries)
    info = dict(
        (pk, (tag_name, tag_category))
        for pk, tag_name, tag_category in Tag.objects.filter(
            pk__in={tag_id(entry) for entry in entries}
        ).values_list("pk", "name", "category")
    )
    return apply_rules(
        entries,
        rules,
        name=lambda entry: info[tag_id(entry)][0],
        category=lambda entry: info[tag_id(entry)][1],
    )


def rules_from_input(
    *, blacklist: Iterable[str] = (), pinned: Iterable[str] = (), category_order: Iterable[str] = ()
) -> TagRules:
    """Validate raw rules: names normalized and aliases resolved, categories known.

    Raises InvalidTagName (a bad name) or InvalidInput (unknown or repeated
    category, too many names, a tag both pinned and blacklisted).
    """
    blacklist, pinned, category_order = list(blacklist), list(pinned), list(category_order)
    if len(blacklist) > MAX_BLACKLIST or len(pinned) > MAX_PINNED:
        raise InvalidInput(
            f"at most {MAX_BLACKLIST} blacklisted and {MAX_PINNED} pinned tags",
            details=[{"blacklist": len(blacklist), "pinned": len(pinned)}],
        )
    for value in category_order:
        if value not in TagCategory.values:
            raise InvalidInput(
                f"unknown category {value!r} in the category order",
                details=[{"category": value, "allowed": list(TagCategory.values)}],
            )
    if len(set(category_order)) != len(category_order):
        raise InvalidInput("a category appears twice in the category order")
    canonical = resolve_tag_map(normalize_tag_name(raw) for raw in [*blacklist, *pinned])
    banned = _canonical(blacklist, canonical)
    head = _canonical(pinned, canonical)
    both = sorted(set(banned) & set(head))
    if both:
        raise InvalidInput(
            f"{both[0]!r} cannot be both pinned and blacklisted", details=[{"tags": both}]
        )
    return TagRules(tuple(banned), tuple(head), tuple(category_order))


def _canonical(raw_names: list[str], canonical: dict[str, str]) -> list[str]:
    return list(dict.fromkeys(canonical[normalize_tag_name(raw)] for raw in raw_names))


def _from_row(row: dict[str, Any]) -> TagRules:
    # Stored names were canonical when saved; a later rename made them aliases.
    names = [*row["blacklist"], *row["pinned"]]
    canonical = resolve_tag_map(names) if names else {}
    return TagRules(
        tuple(dict.fromkeys(canonical[name] for name in row["blacklist"])),
        tuple(dict.fromkeys(canonical[name] for name in row["pinned"])),
        tuple(row["category_order"]),
    )


def session_rules(session_id: int) -> TagRules:
    """The session's rules (NO_RULES when it has none)."""
    row = (
        SessionRules.objects.filter(session_id=session_id)
        .values("blacklist", "pinned", "category_order")
        .first()
    )
    return _from_row(row) if row else NO_RULES
