"""Schema pieces every router shares: the error shape, safe text and id types, list pages."""

from typing import Annotated, Any

import pydantic_core
from django.http import HttpResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# NUL cannot be stored by PostgreSQL; refusing it here keeps it a 422, not a 500.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
# The characters of Unicode's categories Cc, Cf, Cs and Co (control, format such as
# zero-width and bidi marks, surrogates, private use), which session and tag names
# refuse (unicodedata.category in sessions_app.services and tags.normalize), spelled
# out as a regex class so that the schema states the refusal. Surrogates are left to
# pydantic, which refuses them as no text at all; the private-use planes 15 and 16
# (U+F0000-U+10FFFD) are stated in words instead: a range in a pattern costs
# schemathesis' generator a step per code point, and these two are 131,068 of them.
# tests/tagger_project/test_schemas.py checks the class against unicodedata.
INVISIBLE = (
    r"\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ue000-\uf8ff\ufeff\ufff9-\ufffb"
    r"\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f"
)
PRIVATE_USE_PLANES = "private-use characters of planes 15 and 16 (U+F0000 to U+10FFFD)"
# Visible text: no invisible character, and something left once whitespace is stripped.
VISIBLE = rf"^[^{INVISIBLE}]*[^{INVISIBLE}\s][^{INVISIBLE}]*$"
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=VISIBLE),
    Field(
        description=f"Visible text. Also refused, with 400 `invalid`: {PRIVATE_USE_PLANES}.",
        json_schema_extra={"x-refused-with": ["invalid"]},
    ),
]
TAG_NAME_PATTERN = rf"^[^{INVISIBLE},]*[^{INVISIBLE},\s][^{INVISIBLE},]*$"
# The start of a tag name, possibly nothing yet (autocomplete).
TAG_PREFIX_PATTERN = rf"^[^{INVISIBLE},]*$"
# A tag name as the vocabulary takes it (tags.normalize): visible text, no comma (commas
# separate tags), at most 200 characters. What a pattern cannot say is stated for
# clients and for the schemathesis run under `x-refused-with`.
TagName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=200,
        pattern=TAG_NAME_PATTERN,
    ),
    Field(
        description="A tag name. Also refused, with 400 `invalid_tag`: a name with nothing"
        " left once normalized (`()`, `_`, weight syntax alone), weight syntax nested too"
        " deep, one that Unicode normalization makes longer than 200 characters, and"
        f" {PRIVATE_USE_PLANES}.",
        json_schema_extra={"x-refused-with": ["invalid_tag"]},
    ),
]
# Ids are bounded so that no database sees an integer it cannot bind.
Id = Annotated[int, Field(ge=1, le=2**53)]
Limit = Annotated[int, Field(ge=1, le=500)]
# Page cursors are the last row's keys, so the schema can say which strings are cursors:
# by id (sessions), or by position and id (a session's images).
ID_CURSOR, POSITION_CURSOR = r"^[0-9]{1,18}$", r"^[0-9]{1,18}\.[0-9]{1,18}$"
IdCursor = Annotated[str, StringConstraints(pattern=ID_CURSOR)]
PositionCursor = Annotated[str, StringConstraints(pattern=POSITION_CURSOR)]
# What a pattern means, for error messages: pydantic's quotes the pattern itself.
PATTERN_MEANINGS = {
    VISIBLE: "must be visible text, without line breaks, control or invisible characters",
    TAG_NAME_PATTERN: "must be a tag name: visible text without commas, line breaks,"
    " control or invisible characters",
    TAG_PREFIX_PATTERN: "must be the start of a tag name: no commas, line breaks, control or"
    " invisible characters",
    ID_CURSOR: "is not a cursor this API handed out",
    POSITION_CURSOR: "is not a cursor this API handed out",
}

ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 422})


class Out(BaseModel):
    """Base of every response shape: plain pydantic, validated inside pydantic-core.

    ninja's Schema wraps each object it validates, nested ones included, in a
    Python-level DjangoGetter; a page of 50 images × 25 tags made ~1,300 of them,
    about half of the request's time. Selectors hand over dicts (or plain
    objects, read by attribute), so nothing here needs the getter.
    """

    model_config = ConfigDict(from_attributes=True)


def exactly_one(**json_types: str) -> dict[str, Any]:
    """A model's `json_schema_extra` stating that exactly one of these fields is given, not null."""
    branches = [
        {"required": [name], "properties": {name: {"type": json_type}}}
        for name, json_type in json_types.items()
    ]
    return {"oneOf": branches}


class In(BaseModel):
    """Base of every request body shape: plain pydantic in strict mode.

    ninja's Schema reads fields as attributes off whatever it is handed, so a
    JSON array or string passed for an object validated as "all defaults"
    (`[null, null]` created a token) or leaked a method (`list.remove`). Here
    only a JSON object validates as an object, and a value must already be of
    its field's JSON type: `0` is not `false`, `"3"` is not `3`.
    """

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        # JSON has one kind of number: to a JSON Schema `714.0` is the integer 714, to
        # strict pydantic it is a float. Integral floats become ints; float fields take ints.
        if not isinstance(data, dict):
            return data
        return {key: _integral(value) for key, value in data.items()}


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


class ErrorBody(Out):
    code: str
    message: str
    details: list[Any]


class ErrorOut(Out):
    error: ErrorBody


def trusted(body: Any, status: int = 200) -> HttpResponse:
    """Answer JSON that our own selector shaped, skipping ninja's re-validation of it.

    For hot reads whose selector builds exactly the declared response shape
    (the operation keeps `response=` for the OpenAPI schema, and schemathesis
    checks every answer against it). Validating, dumping and json-encoding a
    page of 50 images × 25 tags cost ~1.4 ms; pydantic-core's encoder ~0.2 ms.
    """
    return HttpResponse(
        pydantic_core.to_json(body), status=status, content_type="application/json; charset=utf-8"
    )


def answers(ok: Any, status: int = 200) -> dict[Any, Any]:
    """The response map of an operation: its success schema plus the shared error shape."""
    return {status: ok, ERROR_STATUSES: ErrorOut}
