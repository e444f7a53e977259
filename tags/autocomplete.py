"""Autocomplete: the most used tags whose name, or one of whose aliases, starts with a prefix,
then those where a word inside them does.

Two kinds of match, as a1111-tagcomplete users expect: the name (or an alias)
starts with the prefix (`hair` → `hair ornament`), or one of its words does
(`hair` → `long hair`, `long h` → `very long hair`). A word starts at a
character after one that is not an ASCII letter (space, `(`, a digit…), the
rule tagcomplete applies (tags.models.TagWord). Prefix matches come first;
within each kind, tags rank by image count, then popularity (an imported
vocabulary's post counts), then name. The word-start read runs only when the
prefix matches leave room in the answer.

A one-letter prefix over a 150,000-name vocabulary matches ~8,000
tag names and ~2,000 aliases, so every read is shaped to stay cheap there:

- tags: the prefix's range of `tag_prefix_idx` (name, then the rank columns),
  read from the index alone and sorted (~0.6 ms for 8,000 names, where reading
  each row from the table cost ~7 ms); no prefix at all walks the rank index;
- aliases, few (under RANGE_CAP): the tags of their range (IN), sorted;
- aliases, many: only an alias whose tag outranks the tags' `limit`-th match
  can enter the answer, so walk the rank index over just the tags used at
  least that often, when they are few (WALK_CAP), probing each for an alias;
  otherwise sort the range as above (~2 ms for 2,000 aliases).

Word starts are read from the range of `tagword_prefix_idx` (tags/migrations/0007),
joined to their tags and sorted.

The indexes are made by tags/migrations/0003 (with text_pattern_ops on
PostgreSQL, so LIKE prefixes use them). Raw SQL: the ORM spent ~1 ms building
reads that the database answers in ~0.1 ms.
"""

from django.db import connection

from tagger_project.db import fetch as _fetch
from tagger_project.db import table as _quoted
from tags.models import Tag, TagAlias, TagWord

# Fewer aliases in the prefix's range than this are simply sorted.
RANGE_CAP = 400
# The most tags the alias walk may probe (~0.2 µs each).
WALK_CAP = 5000
_RANK = "t.image_count DESC, t.popularity DESC, t.name"
_COLUMNS = "t.name, t.category, t.image_count, t.popularity"


def tags_complete(*, prefix: str, category: str | None, limit: int) -> list[dict]:
    """Tags starting with the (normalized) prefix, then tags with a word starting with it.

    An alias match answers its canonical tag (with `alias` set to the first
    matching alias); each tag appears once, matched by its own name before any
    alias, and by a prefix before a word start.
    """
    starts = _StartsWith(prefix)
    tags = _fetch(*_tags_read(starts, category, limit))
    aliases = _fetch(
        *_aliases_read(starts, category, limit, walk_from=_walk_from(starts, tags, limit))
    )
    ranked = _ranked(tags + aliases)[:limit]
    if len(ranked) < limit and not starts.empty:
        seen = {row[0] for row in ranked}
        # Up to len(seen) of the word matches are tags the prefix already found.
        words = _fetch(*_words_read(starts, category, limit + len(seen)))
        ranked += [row for row in _ranked(words) if row[0] not in seen][: limit - len(ranked)]
    return [
        {"name": name, "category": category_, "image_count": image_count, "alias": alias}
        for name, category_, image_count, _, alias in ranked
    ]


def _ranked(rows: list[tuple]) -> list[tuple]:
    """Each tag once (its first row: own name before alias), most used first."""
    found: dict[str, tuple] = {}
    for name, category_, image_count, popularity, alias in rows:
        found.setdefault(name, (name, category_, image_count, popularity, alias))
    return sorted(found.values(), key=lambda t: (-t[2], -t[3], t[0]))


class _StartsWith:
    """A `column starts with prefix` condition that an index range can serve."""

    def __init__(self, prefix: str) -> None:
        self.empty = not prefix
        if connection.vendor == "sqlite":
            # SQLite compares BINARY, so [prefix, prefix + U+10FFFF) is exactly the
            # names with that prefix; LIKE is case-insensitive there and cannot use an index.
            self.template = "{0} >= %s AND {0} < %s"
            self.params = [prefix, prefix + "\U0010ffff"]
        else:
            # PostgreSQL serves a LIKE prefix from the text_pattern_ops indexes.
            self.template = "{0} LIKE %s"
            self.params = [connection.ops.prep_for_like_query(prefix) + "%"]

    def on(self, column: str) -> str:
        return self.template.format(column)


def _table(model, alias: str, index: str | None = None) -> str:
    """`table alias`, told which index to read on SQLite (PostgreSQL plans it itself)."""
    hint = f" INDEXED BY {index}" if index and connection.vendor == "sqlite" else ""
    return f"{_quoted(model)} {alias}{hint}"


def _in_category(category: str | None) -> tuple[str, list]:
    return (" AND t.category = %s", [category]) if category else ("", [])


def _tags_read(starts: _StartsWith, category: str | None, limit: int) -> tuple[str, list]:
    only, only_params = _in_category(category)
    if starts.empty:
        sql = f"SELECT {_COLUMNS}, NULL FROM {_table(Tag, 't', 'tag_rank_idx')} WHERE 1 = 1{only}"
        return f"{sql} ORDER BY {_RANK} LIMIT %s", [*only_params, limit]
    sql = (
        f"SELECT {_COLUMNS}, NULL FROM {_table(Tag, 't', 'tag_prefix_idx')}"
        f" WHERE {starts.on('t.name')}{only} ORDER BY {_RANK} LIMIT %s"
    )
    return sql, [*starts.params, *only_params, limit]


def _walk_from(starts: _StartsWith, tags: list[tuple], limit: int) -> int | None:
    """The image count down to which the alias walk goes, or None to sort the alias range.

    Walk when the prefix has many aliases, the tags filled the answer (so
    their last one sets the bar) and few tags are used at least that often.
    """
    if len(tags) < limit:
        return None
    threshold = tags[-1][2]
    sql = (
        f"SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {_table(TagAlias, 'a', 'alias_prefix_idx')}"
        f" WHERE {starts.on('a.name')} LIMIT %s) AS a),"
        f" (SELECT COUNT(*) FROM (SELECT 1 FROM {_table(Tag, 't', 'tag_rank_idx')}"
        f" WHERE t.image_count >= %s LIMIT %s) AS t)"
    )
    [(aliases, walked)] = _fetch(sql, [*starts.params, RANGE_CAP, threshold, WALK_CAP + 1])
    return threshold if aliases >= RANGE_CAP and walked <= WALK_CAP else None


def _aliases_read(
    starts: _StartsWith, category: str | None, limit: int, *, walk_from: int | None
) -> tuple[str, list]:
    only, only_params = _in_category(category)
    first_alias = (
        f"(SELECT MIN(a.name) FROM {_table(TagAlias, 'a')}"
        f" WHERE a.tag_id = t.id AND {starts.on('a.name')})"
    )
    if walk_from is not None:
        # Down the rank index, each tag used at least `walk_from` times probes its aliases.
        source = f"{_table(Tag, 't', 'tag_rank_idx')} WHERE t.image_count >= %s AND"
        condition = f"{first_alias} IS NOT NULL"
        params = [*starts.params, walk_from, *starts.params]
    else:
        # The range's tags, each once (IN), read and sorted.
        source = f"{_table(Tag, 't')} WHERE"
        condition = (
            f"t.id IN (SELECT a.tag_id FROM {_table(TagAlias, 'a', 'alias_prefix_idx')}"
            f" WHERE {starts.on('a.name')})"
        )
        params = [*starts.params, *starts.params]
    sql = f"SELECT {_COLUMNS}, {first_alias} FROM {source} {condition}{only} ORDER BY {_RANK}"
    return f"{sql} LIMIT %s", [*params, *only_params, limit]


def _words_read(starts: _StartsWith, category: str | None, limit: int) -> tuple[str, list]:
    """Tags with a word (of the name, or of an alias) starting with the prefix, ranked.

    `alias` is NULL when a word of the tag's own name matches, else the first
    matching alias.
    """
    only, only_params = _in_category(category)
    alias = (
        "CASE WHEN COUNT(w.alias_id) < COUNT(*) THEN NULL ELSE"
        f" (SELECT MIN(a.name) FROM {_table(TagAlias, 'a')}"
        f" WHERE a.id IN (SELECT v.alias_id FROM {_table(TagWord, 'v', 'tagword_prefix_idx')}"
        f" WHERE v.tag_id = t.id AND {starts.on('v.word')})) END"
    )
    sql = (
        f"SELECT {_COLUMNS}, {alias} FROM {_table(TagWord, 'w', 'tagword_prefix_idx')}"
        f" JOIN {_table(Tag, 't')} ON t.id = w.tag_id WHERE {starts.on('w.word')}{only}"
        f" GROUP BY t.id, {_COLUMNS} ORDER BY {_RANK} LIMIT %s"
    )
    return sql, [*starts.params, *starts.params, *only_params, limit]
