"""The written caption of a session image: free text beside its tag list.

A sentence such as "A woman with long black hair standing in the rain." is
kept exactly as typed (case, punctuation, spacing, line breaks): it is what
SDXL, Flux and SD3 datasets are captioned with, and a trainer reads it back
byte for byte. Edits are optimistic, as tag lists are, on the caption's own
`caption_version`: a write quoting an older version is refused with the
current text (StaleVersion), so the writer can put both side by side and
nothing typed is lost. Every change is logged as `caption.changed` with the
previous text as its inverse (undo), and broadcast after commit.
"""

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImage
from sessions_app.outcome import Outcome
from sessions_app.services.tagging import SessionRef, lock_entry
from tagger_project.errors import InvalidInput, StaleVersion

# Characters, not tokens: far past what any text encoder reads (CLIP 75 tokens,
# T5 512), short enough that a page of panels stays small.
MAX_CAPTION_LENGTH = 10_000
# Line breaks and tabs are text; other control characters (NUL, escapes) are not.
_ALLOWED_CONTROLS = frozenset("\n\r\t")


@dataclass
class WrittenCaption:
    """A session image's written caption and its version."""

    image_id: int
    caption: str
    caption_version: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "caption": self.caption,
            "caption_version": self.caption_version,
        }


def check_caption(text: str) -> str:
    """The text unchanged, or InvalidInput saying what is wrong with it."""
    if len(text) > MAX_CAPTION_LENGTH:
        raise InvalidInput(
            f"a caption has at most {MAX_CAPTION_LENGTH} characters (this one {len(text)})",
            details=[{"max_length": MAX_CAPTION_LENGTH}],
        )
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            raise InvalidInput(
                f"a caption may not hold the control character U+{ord(char):04X}"
                f" (at position {index})",
                details=[{"position": index}],
            )
    return text


def _state(entry: SessionImage) -> WrittenCaption:
    return WrittenCaption(entry.image_id, entry.caption, entry.caption_version)


@transaction.atomic
def caption_set(
    session: SessionRef, image_id: int, *, actor, text: str, version: int
) -> Outcome[WrittenCaption]:
    """Replace the session image's written caption with `text`, exactly.

    Raises StaleVersion (carrying the current text and version) when `version`
    is not the caption's current version: someone else wrote it since.
    """
    check_caption(text)
    entry = lock_entry(session, image_id)
    if entry.caption_version != version:
        raise StaleVersion(
            f"the caption of image {image_id} changed since version {version}"
            f" (now {entry.caption_version})",
            current=_state(entry).as_dict(),
        )
    return caption_write(entry, actor=actor, text=text)


@transaction.atomic
def caption_replace(
    session: SessionRef, image_id: int, *, actor, text: str
) -> Outcome[WrittenCaption]:
    """Set the caption whatever it was (an import says what the caption is), logged as any edit."""
    check_caption(text)
    return caption_write(lock_entry(session, image_id), actor=actor, text=text)


def caption_write(
    entry: SessionImage, *, actor, text: str, annotate: dict[str, Any] | None = None
) -> Outcome[WrittenCaption]:
    """Write the locked session image's caption and log it (callers checked the version).

    `annotate` adds fields to the event payload (undo and redo mark what they reverse).
    """
    if text == entry.caption:
        return Outcome(_state(entry))
    previous = entry.caption
    entry.caption = text
    entry.caption_version += 1
    entry.save(update_fields=["caption", "caption_version"])
    state = _state(entry)
    event = append_event(
        entry.session_id,
        kind=Kind.CAPTION_CHANGED,
        payload={**state.as_dict(), **(annotate or {})},
        actor=actor,
        inverse={
            "op": "restore_caption",
            "image_id": entry.image_id,
            "caption": previous,
            "caption_version": entry.caption_version,
        },
    )
    return Outcome(state, (event,))
