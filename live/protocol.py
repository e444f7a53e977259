"""The WebSocket protocol: client frame schemas, validated per type, and server frame shapes.

Frame names are part of the contract with the browser workspace (static/js/socket.js).
Parsing never raises anything but FrameError, whose `code` becomes the
`error` frame's code.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sessions_app.models import ImageStatus
from sessions_app.services.written_caption import MAX_CAPTION_LENGTH

# Integers the server stores or looks up stay within 2^53 - 1: exact in the
# browser's numbers and far inside both databases' 64-bit columns (SQLite
# cannot even bind a larger Python int).
MAX_INT = 2**53 - 1
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
ClientRef = Annotated[str, Field(min_length=1, max_length=64)] | Count
TagName = Annotated[str, Field(min_length=1, max_length=200)]
TagList = Annotated[list[TagName], Field(max_length=200)]
ImageId = Annotated[int, Field(gt=0, le=MAX_INT)]


class Frame(BaseModel):
    # Strict: "5" is not an image id and true is not a seq. Unknown fields are
    # ignored so newer clients can add some without breaking older servers.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Hello(Frame):
    type: Literal["hello"]
    last_seq: Count = 0


class Ping(Frame):
    type: Literal["ping"]


class Focus(Frame):
    type: Literal["focus"]
    image_id: ImageId | None = None


class EditFrame(Frame):
    type: Literal["edit"]
    id: ClientRef
    image_id: ImageId


class AddTags(EditFrame):
    op: Literal["add_tags"]
    tags: Annotated[list[TagName], Field(min_length=1, max_length=200)]


class RemoveTags(EditFrame):
    op: Literal["remove_tags"]
    tags: Annotated[list[TagName], Field(min_length=1, max_length=200)]


class SetTags(EditFrame):
    op: Literal["set_tags"]
    tags: TagList
    version: Count


class SetCaption(EditFrame):
    op: Literal["set_caption"]
    # The whole text, exactly; the service refuses control characters.
    caption: Annotated[str, Field(max_length=MAX_CAPTION_LENGTH)]
    version: Count


class SetStatus(EditFrame):
    op: Literal["set_status"]
    status: Literal[tuple(ImageStatus.values)]  # type: ignore[valid-type]


class SessionEditFrame(Frame):
    """An edit of the session as a whole: it names no image."""

    # Strict about extra fields, unlike the other frames: an undo always
    # reverses the sender's latest operation in the session, so a client that
    # sends an image_id expects a per-image undo that does not exist.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    type: Literal["edit"]
    id: ClientRef


class Undo(SessionEditFrame):
    op: Literal["undo"]


class Redo(SessionEditFrame):
    op: Literal["redo"]


Edit = AddTags | RemoveTags | SetTags | SetCaption | SetStatus | Undo | Redo
ClientFrame = Hello | Ping | Focus | Edit

FRAME_TYPES: dict[str, type[Frame]] = {"hello": Hello, "ping": Ping, "focus": Focus}
EDIT_OPS: dict[str, type[EditFrame] | type[SessionEditFrame]] = {
    "add_tags": AddTags,
    "remove_tags": RemoveTags,
    "set_tags": SetTags,
    "set_caption": SetCaption,
    "set_status": SetStatus,
    "undo": Undo,
    "redo": Redo,
}


class FrameError(Exception):
    """A frame the server refuses; `ref` is the client's edit id when it could be read."""

    def __init__(self, code: str, message: str, *, ref: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def parse_frame(text: str) -> ClientFrame:
    """Decode and validate one client frame, or raise FrameError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FrameError("invalid_json", f"not JSON: {exc}") from None
    except RecursionError:
        # The size limit still lets ~30,000 brackets through.
        raise FrameError("invalid_json", "not JSON this server reads: nested too deeply") from None
    if not isinstance(data, dict):
        raise FrameError("invalid", "a frame is a JSON object with a 'type'")
    ref = data.get("id") if isinstance(data.get("id"), str | int) else None
    kind = data.get("type")
    model: type[Frame] | None
    if kind == "edit":
        model = EDIT_OPS.get(data.get("op"))  # type: ignore[arg-type]
        if model is None:
            raise FrameError("invalid", f"'op' must be one of {', '.join(EDIT_OPS)}", ref=ref)
    else:
        model = FRAME_TYPES.get(kind)  # type: ignore[arg-type]
        if model is None:
            raise FrameError("unknown_type", f"unknown frame type {kind!r}", ref=ref)
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise FrameError("invalid", _describe(exc), ref=ref) from None


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'frame'}: {error['msg']}"
        for error in exc.errors(include_url=False)[:5]
    ]
    return "; ".join(problems)


def error_frame(code: str, message: str, *, ref: Any = None, **extra: Any) -> dict[str, Any]:
    """The `error` frame: the connection stays up."""
    return {"type": "error", "id": ref, "code": code, "message": message, **extra}


def events_frame(event_texts: list[str]) -> str:
    """One frame for events that travel together: each element is a ready `event` frame."""
    if len(event_texts) == 1:
        return event_texts[0]
    return '{"type":"events","events":[' + ",".join(event_texts) + "]}"
