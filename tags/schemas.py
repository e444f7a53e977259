"""Request and response shapes of the vocabulary endpoints."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tagger_project.schemas import PRIVATE_USE_PLANES, TAG_PREFIX_PATTERN, In, Out, TagName

# The start of a tag name: what a tag name may hold, possibly nothing yet.
Prefix = Annotated[
    str,
    StringConstraints(max_length=200, pattern=TAG_PREFIX_PATTERN),
    Field(
        description="Also refused, with 400 `invalid_tag`: a prefix with nothing left once"
        f" normalized (`_`, weight syntax alone), and {PRIVATE_USE_PLANES}.",
        json_schema_extra={"x-refused-with": ["invalid_tag"]},
    ),
]
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


class ClipTokensIn(In):
    # A written caption's limit (sessions_app's MAX_CAPTION_LENGTH), which tags may not import.
    text: Annotated[str, StringConstraints(max_length=10_000)]


class ClipTokensOut(Out):
    tokens: int
    limit: int


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
