"""Schema pieces every router shares: the error shape, safe text and id types, list pages."""

from typing import Annotated, Any

import pydantic_core
from django.http import HttpResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# NUL cannot be stored by PostgreSQL; refusing it here keeps it a 422, not a 500.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
# Ids are bounded so that no database sees an integer it cannot bind.
Id = Annotated[int, Field(ge=1, le=2**53)]
Limit = Annotated[int, Field(ge=1, le=500)]

ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 422})


class Out(BaseModel):
    """Base of every response shape: plain pydantic, validated inside pydantic-core.

    ninja's Schema wraps each object it validates, nested ones included, in a
    Python-level DjangoGetter; a page of 50 images × 25 tags made ~1,300 of them,
    about half of the request's time. Selectors hand over dicts (or plain
    objects, read by attribute), so nothing here needs the getter.
    """

    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    """Base of every request body shape: plain pydantic in strict mode.

    ninja's Schema reads fields as attributes off whatever it is handed, so a
    JSON array or string passed for an object validated as "all defaults"
    (`[null, null]` created a token) or leaked a method (`list.remove`). Here
    only a JSON object validates as an object, and a value must already be of
    its field's JSON type: `0` is not `false`, `"3"` is not `3`.
    """

    model_config = ConfigDict(strict=True)


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
