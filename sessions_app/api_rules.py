"""HTTP doors onto tag rules, provenance batches and undo/redo.

Mounted under `/api/sessions` beside the sessions router. Each endpoint
checks the caller's role (sessions_app.permissions), calls one service or
selector, and shapes the answer; errors leave through the API's one handler.
"""

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, Field, model_validator

from sessions_app.api import batch_on_selection
from sessions_app.models import Role
from sessions_app.permissions import session_for
from sessions_app.rules import MAX_BLACKLIST, MAX_PINNED, rules_from_input, session_rules
from sessions_app.schemas import BatchOut, Selection, TagName
from sessions_app.services.rules import rules_apply, rules_preview
from sessions_app.services.undo import operation_redo, operation_undo
from tagger_project.schemas import Id, In, answers, exactly_one
from tags.models import TagCategory, TagSource

router = Router(tags=["rules"])

CATEGORIES = list(TagCategory.values)
SourceName = Literal[tuple(TagSource.values)]  # type: ignore[valid-type]
# Accepting a source makes its tags manual: manual ones are accepted already.
AcceptableSource = Literal[tuple(v for v in TagSource.values if v != TagSource.MANUAL)]  # type: ignore[valid-type]


class StrictIn(In):
    # An unknown field is a typo or a client/server mismatch: say so, change nothing.
    model_config = ConfigDict(extra="forbid")


class RulesIn(StrictIn):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "Also refused, with 400 `invalid` or `invalid_tag`: a tag both"
            " pinned and blacklisted, or two names that normalize or alias to one tag.",
            "x-refused-with": ["invalid", "invalid_tag"],
        }
    )

    blacklist: Annotated[list[TagName], Field(max_length=MAX_BLACKLIST)] = []
    pinned: Annotated[list[TagName], Field(max_length=MAX_PINNED)] = []
    # The schema lists the categories; the service checks them, so that an unknown one
    # gets its own message naming it.
    category_order: Annotated[
        list[Annotated[str, Field(max_length=40, json_schema_extra={"enum": CATEGORIES})]],
        Field(max_length=20, json_schema_extra={"uniqueItems": True}),
    ] = []


class RulesOut(Schema):
    blacklist: list[str]
    pinned: list[str]
    category_order: list[str]


class RuleSample(Schema):
    image_id: int
    original_name: str
    before: list[str]
    after: list[str]


class PreviewOut(Schema):
    rules: RulesOut
    total: int
    changed: int
    sample: list[RuleSample]


class ApplyOut(Schema):
    rules: RulesOut
    changed: int
    seq: int


class SourceBatchIn(StrictIn):
    model_config = ConfigDict(json_schema_extra=exactly_one(accept="string", drop="string"))

    selection: Selection
    accept: AcceptableSource | None = None
    drop: SourceName | None = None

    @model_validator(mode="after")
    def one_of(self) -> "SourceBatchIn":
        if (self.accept is None) == (self.drop is None):
            raise ValueError("give exactly one of accept or drop")
        return self


class UndoOut(Schema):
    seq: int
    kind: str
    reversed_seq: int
    image_ids: list[int]


# --- rules ---------------------------------------------------------------------------------


@router.get("/{session_id}/rules", response=answers(RulesOut))
def rules_detail(request: HttpRequest, session_id: Id):
    """The session's tag rules."""
    session = session_for(request.auth, session_id)
    return session_rules(session.pk).as_dict()


@router.post("/{session_id}/rules/preview", response=answers(PreviewOut))
def rules_dry_run(request: HttpRequest, session_id: Id, payload: RulesIn):
    """What these rules would change, with a before/after sample; changes nothing (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    diff = rules_preview(session, rules_from_input(**payload.model_dump()))
    return {
        "rules": diff.rules.as_dict(),
        "total": diff.total,
        "changed": diff.changed,
        "sample": diff.sample,
    }


@router.put("/{session_id}/rules", response=answers(ApplyOut))
def rules_change(request: HttpRequest, session_id: Id, payload: RulesIn):
    """Set the rules and rewrite the session's images: one undoable operation (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    outcome = rules_apply(
        session, actor=request.auth, rules=rules_from_input(**payload.model_dump())
    )
    result = outcome.value
    return {"rules": result.rules.as_dict(), "changed": result.changed, "seq": outcome.seq}


# --- provenance ------------------------------------------------------------------------------


@router.post("/{session_id}/batch/source", response=answers(BatchOut))
def source_batch(request: HttpRequest, session_id: Id, payload: SourceBatchIn):
    """Accept (make manual) or drop every tag of one source on a selection (editors)."""
    return batch_on_selection(
        request,
        session_id,
        payload.selection,
        accept_source=payload.accept,
        drop_source=payload.drop,
    )


# --- undo / redo -------------------------------------------------------------------------------


def _reversal(event) -> dict[str, Any]:
    payload = event.payload
    image_ids = payload.get("image_ids") or (
        [payload["image_id"]] if payload.get("image_id") else []
    )
    return {
        "seq": event.seq,
        "kind": event.kind,
        "reversed_seq": payload.get("undo_of") or payload.get("redo_of"),
        "image_ids": image_ids,
    }


@router.post("/{session_id}/undo", response=answers(UndoOut))
def undo(request: HttpRequest, session_id: Id):
    """Undo your latest operation here; 409 with the reason when it would clobber others."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    return _reversal(operation_undo(session, actor=request.auth).value)


@router.post("/{session_id}/redo", response=answers(UndoOut))
def redo(request: HttpRequest, session_id: Id):
    """Redo what you undid most recently; 409 when there is nothing to redo or it conflicts."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    return _reversal(operation_redo(session, actor=request.auth).value)
