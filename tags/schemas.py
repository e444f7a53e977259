"""Request and response shapes of the vocabulary endpoints."""

from typing import Annotated, Literal

from pydantic import StringConstraints

from tagger_project.schemas import In, Out

TagName = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=r"^[^\x00]*$")]
Prefix = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]
Category = Literal[
    "general",
    "artist",
    "copyright",
    "character",
    "meta",
    "species",
    "contributor",
    "lore",
    "invalid",
]


class TagSuggestion(Out):
    name: str
    category: str
    image_count: int
    alias: str | None


class TagSuggestionList(Out):
    items: list[TagSuggestion]
    next_cursor: str | None = None


class AliasIn(In):
    name: TagName


class AliasOut(Out):
    name: str
    tag: str


class AliasList(Out):
    items: list[AliasOut]
    next_cursor: str | None = None


class ImplicationIn(In):
    implies: TagName


class ImplicationOut(Out):
    tag: str
    implies: str


class ImplicationList(Out):
    items: list[ImplicationOut]
    next_cursor: str | None = None
