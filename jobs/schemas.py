"""Shapes of the jobs API."""

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from sessions_app.schemas import Selection, TagNames
from tagger_project.schemas import Name, Out


class AutotagIn(Schema):
    selection: Selection
    model: Name
    mode: Literal["append", "replace", "untagged"] = "append"
    # Checked by the service (sessions_app.services.autotag.autotag_options), so
    # every door refuses the same values with the same words.
    general_threshold: float = 0.35
    character_threshold: float = 0.85
    suggest_threshold: float | None = None
    general_mcut: bool = False
    character_mcut: bool = False
    include_rating: bool = False
    exclude: TagNames = []
    max_tags: int | None = Field(None, ge=-(2**31), le=2**31)


class JobOut(Out):
    id: int
    session_id: int
    kind: str
    state: str
    model: str
    # An export's format ("" for other kinds).
    format: str
    options: dict[str, Any]
    total: int
    done: int
    inferred: int
    failed: int
    attempts: int
    cancel_requested: bool
    error: str
    result: dict[str, Any]
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobList(Out):
    items: list[JobOut]
