"""The tag query language: tokenizer, recursive-descent parser and compiler to SQL.

    red hair, smile            AND (comma)
    cat | dog                  OR (binds tighter than the comma)
    -blurry                    NOT
    status:todo                the image's status in the session
    tags:<5  tags:>=10  tags:3 how many tags the image has
    source:prompt              has at least one tag from that source
    untagged                   has no tags at all
    caption:rain  caption:"in the rain"   the written caption contains it (any case)
    has:caption  -has:caption  the image has a written caption (or not)
    subset:ohwx  subset:10_ohwx   in the subset of that name (or kohya folder)
    has:subset   -has:subset   in some subset (or in none)
    has:suggestions            a tagger suggested tags that nobody accepted or dismissed yet
    "a | b"                    quoted tag name (for names with | or a leading -)
    *hair  long*  *hair*       any tag whose name matches (`*`: any run of characters)

Grammar (the comma binds loosest, so `a | b, c` is `(a | b) AND c`):

    query  := or (',' or)* [',']      (one trailing comma is allowed)
    or     := unary ('|' unary)*
    unary  := '-' unary | WORD | STRING

A suggestion (source `suggestion`) is not part of the caption until it is
accepted, so only `source:suggestion` and `has:suggestions` see it: tag
names, patterns, `tags:` counts and `untagged` test the caption's rows.

`parse` is pure (no database): tag names are normalized there, so a bad name
is reported at its position. `compile_query` resolves aliases and looks the
tags up in one query, then builds EXISTS / NOT EXISTS subqueries. An AND
reads its rarest tag (known from the maintained counts) by whichever plan
costs least: drive from that tag's images, or walk the images in order until
a page is full, testing each against the tag's image list (built once) or
probing it with EXISTS.
"""

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal

from django.db import connection

from tagger_project.errors import InvalidInput
from tags.models import Tag, TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.sql import names_lookup

MAX_QUERY_LENGTH = 2000
MAX_TERMS = 32
# The three plans for an AND's rarest tag (see plan_for). Measured on the
# 100k-image bench (SQLite): walking the session in position order and probing
# EXISTS costs ~0.5 µs per row visited, while driving from a tag's image list
# (IN) costs ~4 µs per image of that tag (a lookup in the session, the other
# probes, then a sort of every hit before the first row).
DRIVE_COST_RATIO = 8
# Between the two, a walk that tests the rarest tag against its image list,
# which SQLite materializes once as an ephemeral index. Fitted on the same
# bench (SQLite 3.40, 100k images x 25 tags, 300 ANDs of a rare, a common and
# a negated middling tag, a page of 51): probing EXISTS costs 0.335 µs per row
# visited (less than the ~0.5 above, which DRIVE_COST_RATIO still assumes); the
# listed walk 0.097 µs per image of the rarest tag (building the list) plus
# 0.146 µs per row visited.
EXISTS_ROW_US = 0.335
LIST_BUILD_US = 0.097
LIST_ROW_US = 0.146


@dataclass(frozen=True)
class TagRows:
    """Where the tag rows a query tests live: the app that owns them names them
    (sessions_app's session-image tags), so this module imports no app above tags."""

    table: str  # the rows' table (tag_id, source and the key column)
    key: str  # the column naming what carries the tag
    universe: str  # the table whose highest id bounds how many things can carry one


class QueryError(InvalidInput):
    """A malformed query; `position` is the 0-based offset where it broke."""

    code = "invalid_query"

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(
            f"{reason} at position {position}",
            details=[{"position": position, "reason": reason}],
        )
        self.position = position
        self.reason = reason


# --- AST ------------------------------------------------------------------


@dataclass(frozen=True)
class TagTerm:
    name: str  # normalized, aliases not yet resolved
    pos: int


@dataclass(frozen=True)
class TagPattern:
    """A name with `*` wildcards (`*hair`, `long*`, `*hair*`): any tag whose name matches."""

    pattern: str  # normalized; `*` stands for any run of characters
    pos: int


@dataclass(frozen=True)
class StatusIs:
    value: str
    pos: int


@dataclass(frozen=True)
class TagCount:
    op: str
    value: int
    pos: int


@dataclass(frozen=True)
class SourceIs:
    value: str
    pos: int


@dataclass(frozen=True)
class Untagged:
    pos: int


@dataclass(frozen=True)
class CaptionContains:
    """The written caption holds `text`, in any case (not a tag name: nothing is normalized)."""

    text: str
    pos: int


@dataclass(frozen=True)
class HasCaption:
    pos: int


@dataclass(frozen=True)
class SubsetIs:
    """In the subset called `name`, or whose folder (`<repeats>_<name>`) it is."""

    name: str
    pos: int


@dataclass(frozen=True)
class HasSubset:
    pos: int


@dataclass(frozen=True)
class Not:
    item: "Node"
    pos: int


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]
    pos: int


Node = (
    TagTerm
    | TagPattern
    | StatusIs
    | TagCount
    | SourceIs
    | Untagged
    | CaptionContains
    | HasCaption
    | SubsetIs
    | HasSubset
    | Not
    | Or
    | And
)


# --- tokenizer --------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "comma", "pipe", "minus", "word", "string", "end"
    text: str
    pos: int


_ESCAPABLE = ',|"\\-'


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; a '-' is a NOT only where a term starts."""
    tokens: list[Token] = []
    index, size = 0, len(text)
    term_start = True
    while index < size:
        char = text[index]
        if char.isspace():
            index += 1
        elif char in ",|":
            tokens.append(Token("comma" if char == "," else "pipe", char, index))
            index += 1
            term_start = True
        elif char == "-" and term_start:
            tokens.append(Token("minus", char, index))
            index += 1
        elif char == '"':
            value, index = _read_string(text, index)
            tokens.append(value)
            term_start = False
        else:
            word, index = _read_word(text, index)
            tokens.append(word)
            term_start = False
    tokens.append(Token("end", "", size))
    return tokens


def _read_string(text: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
        elif char == '"':
            return Token("string", "".join(chars), start), index + 1
        else:
            chars.append(char)
            index += 1
    raise QueryError("unterminated quoted name", start)


def _read_word(text: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    index = start
    while index < len(text) and text[index] not in ',|"':
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            chars.append(text[index + 1])
            index += 2
        else:
            chars.append(char)
            index += 1
    return Token("word", "".join(chars).rstrip(), start), index


# --- parser -------------------------------------------------------------------

_FILTER = re.compile(
    r"^(status|tags|source|caption|has|subset)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL
)
_FOLDER = re.compile(r"^([0-9]{1,5})_(.+)$", re.DOTALL)
_COUNT = re.compile(r"^(<=|>=|<|>|=)?\s*(\d{1,6})$")
SOURCES = tuple(TagSource.values)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.terms = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def query(self) -> Node:
        start = self.current.pos
        items = [self.disjunction()]
        while self.current.kind == "comma":
            self.advance()
            if self.current.kind == "end":
                break  # a caption pasted as it was written often ends "1girl, smile,"
            items.append(self.disjunction())
        if self.current.kind != "end":
            raise QueryError(f"unexpected {self.current.text!r}", self.current.pos)
        return items[0] if len(items) == 1 else And(tuple(items), start)

    def disjunction(self) -> Node:
        start = self.current.pos
        items = [self.unary()]
        while self.current.kind == "pipe":
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else Or(tuple(items), start)

    def unary(self) -> Node:
        token = self.advance()
        if token.kind == "minus":
            # Count a run of '-' iteratively: "----x" must not recurse per dash.
            negations = 1
            while self.current.kind == "minus":
                self.advance()
                negations += 1
            inner = self.unary()
            return Not(inner, token.pos) if negations % 2 else inner
        if token.kind in ("word", "string"):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise QueryError(f"more than {MAX_TERMS} terms", token.pos)
            node = self.term(token)
            if self.current.kind in ("word", "string", "minus"):
                raise QueryError("expected ',' or '|' between terms", self.current.pos)
            return node
        where = "the end of the query" if token.kind == "end" else repr(token.text)
        raise QueryError(f"expected a term, found {where}", token.pos)

    def term(self, token: Token) -> Node:
        if token.kind == "string":
            return TagTerm(_normalized(token.text, token.pos), token.pos)
        if _CAPTION_KEY.match(token.text) and self.current.kind == "string":
            # caption:"in the rain": the quoted text is the filter's value.
            return self.caption_term(self.advance().text, token.pos)
        if _SUBSET_KEY.match(token.text) and self.current.kind == "string":
            return SubsetIs(self.advance().text, token.pos)
        if token.text.lower() == "untagged":
            return Untagged(token.pos)
        match = _FILTER.match(token.text)
        if match is None:
            name = _normalized(token.text, token.pos)
            # Quoted, a `*` is part of a name; bare, it is a wildcard (as in hydrus and boorus).
            return TagPattern(name, token.pos) if "*" in name else TagTerm(name, token.pos)
        field, value = match.group(1).lower(), match.group(2).strip()
        if field == "caption":
            return self.caption_term(value, token.pos)
        if field == "subset":
            if not value:
                raise QueryError("subset: needs a subset's name, such as subset:ohwx", token.pos)
            return SubsetIs(value, token.pos)
        if field == "has":
            if value.lower() == "subset":
                return HasSubset(token.pos)
            if value.lower() in ("suggestion", "suggestions"):
                return SourceIs(TagSource.SUGGESTION, token.pos)
            if value.lower() != "caption":
                raise QueryError(
                    "has: takes caption, subset or suggestions"
                    " (has:caption, has:subset, has:suggestions)",
                    token.pos,
                )
            return HasCaption(token.pos)
        if field == "tags":
            count = _COUNT.match(value)
            if count is None:
                raise QueryError("tags: needs a count such as tags:<5 or tags:>=10", token.pos)
            return TagCount(count.group(1) or "=", int(count.group(2)), token.pos)
        if field == "source":
            if value.lower() not in SOURCES:
                raise QueryError(
                    f"unknown source {value!r} (one of {', '.join(SOURCES)})", token.pos
                )
            return SourceIs(value.lower(), token.pos)
        if not value:
            raise QueryError("status: needs a value such as status:todo", token.pos)
        return StatusIs(value.lower(), token.pos)

    def caption_term(self, text: str, pos: int) -> Node:
        if not text.strip():
            raise QueryError('caption: needs some text, such as caption:"rain"', pos)
        return CaptionContains(text, pos)


_CAPTION_KEY = re.compile(r"^caption\s*:$", re.IGNORECASE)
_SUBSET_KEY = re.compile(r"^subset\s*:$", re.IGNORECASE)


def _normalized(raw: str, pos: int) -> str:
    try:
        return normalize_tag_name(raw)
    except InvalidTagName as exc:
        raise QueryError(exc.reason, pos) from None


def parse(text: str) -> Node | None:
    """Parse a query; None when it is blank. Raises QueryError with the position."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"a query has at most {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    if not text.strip():
        return None
    return _Parser(text).query()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, depth first."""
    yield node
    if isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Or | And):
        for item in node.items:
            yield from walk(item)


# --- compiler -----------------------------------------------------------------


Plan = Literal["drive", "list", "walk"]


def plan_for(rarest: int, density: float, wanted: int | None, universe: int) -> Plan:
    """How an AND reads its rarest tag, whose images number `rarest`.

    "drive": from that tag's images; "list": walk the images in order, testing
    each against the tag's image list built once; "walk": walk in order,
    probing the tag with EXISTS. The walk stops once `wanted` rows matched: it
    visits about `wanted / density` rows (density: the share of images
    matching the AND's tag terms, taken as independent), at most `universe`.
    With no page size (`wanted` None) every match is wanted, and the rarest
    tag's images are the fewest rows to visit.
    """
    if wanted is None or universe <= 0:
        return "drive"
    walk = universe if density <= 0 else min(universe, wanted / density)
    if DRIVE_COST_RATIO * rarest < walk:
        return "drive"
    if LIST_BUILD_US * rarest + LIST_ROW_US * walk < EXISTS_ROW_US * walk:
        return "list"
    return "walk"


@dataclass(frozen=True)
class _Found:
    id: int
    image_count: int


Sql = tuple[str, list]
# The rows a caption is made of (a literal: TagSource values are plain words, never input).
_IN_CAPTION = f" AND x.source <> '{TagSource.SUGGESTION.value}'"
_NONE_SQL: Sql = ("1 = 0", [])
_ALL_SQL: Sql = ("1 = 1", [])
_SQL_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "="}


class _Compiler:
    """A parsed query as a WHERE fragment over `image_field`, a column of the outer query.

    Raw SQL rather than Q objects: building the page query through the ORM
    (Q → Exists → SQL) cost ~0.85 ms a request, several times the database's
    own work on a keyset page.
    """

    def __init__(
        self,
        tags: dict[str, _Found],
        image_field: str,
        status_field: str | None,
        statuses,
        *,
        caption_field: str | None = None,
        subset_field: tuple[str, str] | None = None,
        wanted: int | None,
        universe: int,
        plan: Plan | None,
        tag_rows: TagRows,
    ) -> None:
        self.tags = tags
        self.image_field = image_field
        self.status_field = status_field
        self.caption_field = caption_field
        self.subset_field = subset_field
        self.statuses = statuses
        self.wanted = wanted
        self.universe = universe
        self.plan = plan
        self.image_tag = connection.ops.quote_name(tag_rows.table)
        self.key = tag_rows.key

    def rows(self, extra: str = "", *, suggestions: bool = False) -> str:
        """The image's tag rows: its caption's, or with `suggestions` every row."""
        where = "" if suggestions else _IN_CAPTION
        return (
            f"SELECT 1 FROM {self.image_tag} x"
            f" WHERE x.{self.key} = {self.image_field}{where}{extra}"
        )

    def compile(self, node: Node) -> Sql:
        if isinstance(node, TagTerm):
            found = self.tags.get(node.name)
            if not found:
                return _NONE_SQL
            return f"EXISTS ({self.rows(' AND x.tag_id = %s')})", [found.id]
        if isinstance(node, Not):
            sql, params = self.compile(node.item)
            return f"NOT ({sql})", params
        if isinstance(node, Or):
            parts = [self.compile(item) for item in node.items]
            return _joined(" OR ", parts)
        if isinstance(node, And):
            return self.conjunction(node)
        return self.field_filter(node)

    def conjunction(self, node: And) -> Sql:
        positive = [item for item in node.items if isinstance(item, TagTerm)]
        if any(item.name not in self.tags for item in positive):
            return _NONE_SQL
        rarest = min(positive, key=lambda item: self.tags[item.name].image_count, default=None)
        plan = "walk" if rarest is None else self.plan_of(self.tags[rarest.name], node.items)
        parts = []
        for item in node.items:
            if item is rarest and plan != "walk":
                # A unary + keeps SQLite from driving the loop from the list (an
                # operand under + cannot use an index): the walk stays in session
                # order and tests membership in the list, materialized once.
                column = self.image_field if plan == "drive" else f"+{self.image_field}"
                listed = (
                    f"SELECT {self.key} FROM {self.image_tag} x WHERE x.tag_id = %s{_IN_CAPTION}"
                )
                parts.append((f"{column} IN ({listed})", [self.tags[item.name].id]))
            else:
                parts.append(self.compile(item))
        return _joined(" AND ", parts)

    def field_filter(self, node: Node) -> Sql:
        if isinstance(node, TagPattern):
            tag = connection.ops.quote_name(Tag._meta.db_table)
            named = f" AND x.tag_id IN (SELECT t.id FROM {tag} t WHERE t.name LIKE %s ESCAPE '!')"
            return f"EXISTS ({self.rows(named)})", [like_pattern(node.pattern)]
        if isinstance(node, Untagged):
            return f"NOT EXISTS ({self.rows()})", []
        if isinstance(node, CaptionContains | HasCaption):
            return self.caption_filter(node)
        if isinstance(node, SubsetIs | HasSubset):
            return self.subset_filter(node)
        if isinstance(node, SourceIs):
            rows = self.rows(" AND x.source = %s", suggestions=True)
            return f"EXISTS ({rows})", [node.value]
        if isinstance(node, TagCount):
            limit = node.value - 1 if node.op == "<" else node.value
            if node.op in ("<", "<=", "=") and limit <= 0:
                # No image has fewer than zero tags; "at most zero" is untagged.
                return (f"NOT EXISTS ({self.rows()})", []) if limit == 0 else _NONE_SQL
            if node.op == ">=" and node.value == 0:
                return _ALL_SQL
            counted = (
                f"SELECT COUNT(*) FROM {self.image_tag} x"
                f" WHERE x.{self.key} = {self.image_field}{_IN_CAPTION}"
            )
            return f"COALESCE(({counted}), 0) {_SQL_COMPARE[node.op]} %s", [node.value]
        assert isinstance(node, StatusIs)
        if self.status_field is None:
            raise QueryError("status: is only available inside a session", node.pos)
        if node.value not in self.statuses:
            allowed = ", ".join(self.statuses)
            raise QueryError(f"unknown status {node.value!r} (one of {allowed})", node.pos)
        return f"{self.status_field} = %s", [node.value]

    def caption_filter(self, node: "CaptionContains | HasCaption") -> Sql:
        if self.caption_field is None:
            raise QueryError("caption filters are only available inside a session", node.pos)
        if isinstance(node, HasCaption):
            return f"{self.caption_field} <> ''", []
        # LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's none.
        pattern = f"%{_like_escaped(node.text.lower())}%"
        return f"LOWER({self.caption_field}) LIKE %s ESCAPE '!'", [pattern]

    def subset_filter(self, node: "SubsetIs | HasSubset") -> Sql:
        if self.subset_field is None:
            raise QueryError("subset filters are only available inside a session", node.pos)
        column, table = self.subset_field
        if isinstance(node, HasSubset):
            return f"{column} IS NOT NULL", []
        named = f"SELECT s.id FROM {connection.ops.quote_name(table)} s WHERE s.name = %s"
        params: list = [node.name]
        folder = _FOLDER.match(node.name)
        if folder is not None:
            named += " OR (s.num_repeats = %s AND s.name = %s)"
            params += [int(folder.group(1)), folder.group(2)]
        # The subset ids are the session's own: the column names this session's row.
        return f"{column} IN ({named})", params

    def plan_of(self, rarest: _Found, items: tuple[Node, ...]) -> Plan:
        """How this AND reads its rarest tag: the plan forced, else the cheapest."""
        if self.plan is not None:
            return self.plan
        density = 1.0
        for item in items:
            negated = isinstance(item, Not) and isinstance(item.item, TagTerm)
            term = item.item if negated else item
            if isinstance(term, TagTerm) and term.name in self.tags and self.universe > 0:
                share = min(1.0, self.tags[term.name].image_count / self.universe)
                density *= 1.0 - share if negated else share
        return plan_for(rarest.image_count, density, self.wanted, self.universe)


def like_pattern(pattern: str) -> str:
    """A `*` pattern as SQL LIKE's (with `!` escaping LIKE's own % and _)."""
    return _like_escaped(pattern).replace("*", "%")


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE … ESCAPE '!'."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _joined(glue: str, parts: list[Sql]) -> Sql:
    if not parts:
        return _ALL_SQL
    return "(" + glue.join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]


def _lookup(names: list[str], universe_table: str) -> tuple[dict[str, _Found], int]:
    """Each normalized name's tag (aliases resolved) and the highest image id, in one query.

    The highest image id bounds the library's size, the denominator of a
    tag's share. Raw SQL: the ORM built the same three reads as two queries
    in ~0.5 ms, several times what the database spends on them.
    """
    found: dict[str, _Found] = {}
    aliased: set[str] = set()
    universe = 0
    for kind, name, tag_id, count in names_lookup(names, universe_table):
        if kind == 2:
            universe = tag_id or 0
        elif kind == 1:
            # An alias wins over a tag of the same name, as in resolve_tag_map.
            found[name] = _Found(tag_id, count)
            aliased.add(name)
        elif name not in aliased:
            found[name] = _Found(tag_id, count)
    return found, universe


def compile_query(
    node: Node | None,
    *,
    tag_rows: TagRows,
    image_column: str,
    status_column: str | None = None,
    statuses: Collection[str] = (),
    caption_column: str | None = None,
    subset_column: tuple[str, str] | None = None,
    wanted: int | None = None,
    plan: Plan | None = None,
) -> Sql:
    """Turn a parsed query into a WHERE fragment and its parameters, over SQL columns.

    `tag_rows` says where the tag rows are; `image_column` / `status_column`
    name the outer query's columns (e.g. `si.id`, matched against the rows'
    key), `caption_column` the written caption's, and `subset_column` the
    (column, table) of the row's subset id and the subsets' table. `wanted`: how many
    rows the caller reads in order (a page plus one), or None for all of them;
    it decides how an AND reads its rarest tag, never what matches. `plan`
    forces that plan (for tests and benchmarks that compare them); None
    chooses the cheapest. One query resolves aliases and looks the tags up;
    unknown tags match nothing.
    """
    if node is None:
        return _ALL_SQL
    names = list(dict.fromkeys(item.name for item in walk(node) if isinstance(item, TagTerm)))
    found, universe = _lookup(names, tag_rows.universe) if names else ({}, 0)
    compiler = _Compiler(
        found,
        image_column,
        status_column,
        tuple(statuses),
        caption_field=caption_column,
        subset_field=subset_column,
        wanted=wanted,
        universe=universe,
        plan=plan,
        tag_rows=tag_rows,
    )
    if isinstance(node, TagTerm):
        # A lone tag is an AND of one: a rare one is best read from its own list.
        node = And((node,), node.pos)
    return compiler.compile(node)
