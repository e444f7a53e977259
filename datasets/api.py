"""HTTP doors onto datasets: the export (streamed, or built by a job and then downloaded) and the
insight into a session's captions.

Mounted under `/api/sessions` beside the sessions router. Each endpoint checks
the caller's role (sessions_app.permissions), calls one selector, and shapes
the answer; errors leave through the API's one handler.
"""

from typing import Annotated, Literal

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from datasets import insight
from datasets.export_job import export_delivery, export_enqueue
from datasets.exporting import ExportOptions, async_chunks, export_stream
from images.delivery import StoredFileMissing, deliver
from jobs.schemas import JobOut
from jobs.selectors import job_in_session, job_shape
from sessions_app.permissions import session_for
from sessions_app.schemas import Separator, StatusName, TagName
from tagger_project.errors import NotFound
from tagger_project.schemas import Id, In, Limit, Text, answers
from tags.clip_tokens import CLIP_TOKEN_LIMIT

router = Router(tags=["datasets"])


class TagStat(Schema):
    name: str
    category: str
    count: int
    share: float
    with_trigger: int | None


class TagStatsOut(Schema):
    total_images: int
    trigger_word: str
    trigger_mode: Literal["tag", "setting"] | None
    items: list[TagStat]


class PruneItem(Schema):
    name: str
    category: str
    count: int
    share: float


class PruningOut(Schema):
    total_images: int
    min_share: float
    items: list[PruneItem]


class CaptionItem(Schema):
    image_id: int
    original_name: str
    tag_count: int
    tokens: int
    too_few_tags: bool
    over_token_limit: bool


class CaptionsOut(Schema):
    total_images: int
    too_few_tags: int
    over_token_limit: int
    max_tags: int
    max_tokens: int
    items: list[CaptionItem]


# --- export ---------------------------------------------------------------------------------


ExportFormatName = Literal["kohya", "kohya-json", "jsonl", "hydrus", "json"]
CaptionSource = Literal["auto", "tags", "text", "both", "files"]


@router.get("/{session_id}/export", response=answers(None))
def session_export(
    request: HttpRequest,
    session_id: Id,
    format: ExportFormatName = "kohya",
    images: bool = True,
    status: list[StatusName] = Query([]),
    trigger_word: Annotated[Text, Field(max_length=200)] | None = None,
    separator: Separator | None = None,
    underscores: bool | None = None,
    escape: bool | None = None,
    pin: list[TagName] = Query([], max_length=50),
    keep_tokens_separator: bool = False,
    image_dir: Annotated[Text, Field(max_length=1000)] | None = None,
    caption_source: CaptionSource | None = None,
    spellings: bool = True,
):
    """Download the dataset, streamed: a zip, or the bare JSON document with `images=false`.

    Caption options left out follow the session's settings, and its rules' pinned tags.
    `image_dir` is the kohya TOML's (where the zip will be unpacked; default ".", which
    sd-scripts reads from the directory the trainer runs in). `caption_source`: what a
    caption holds, "auto" the written caption where an image has one, else its tags
    (default: as the session's dataset came in). `spellings=false` spells every tag the
    session's way instead of as the imported files wrote it.
    """
    session = session_for(request.auth, session_id)
    options = ExportOptions(
        trigger_word=trigger_word,
        separator=separator,
        use_underscores=underscores,
        escape_parentheses=escape,
        pinned=tuple(pin),
        keep_tokens_separator=keep_tokens_separator,
        include_images=images,
        statuses=tuple(status),
        image_dir=image_dir,
        caption_source=caption_source,
        keep_spellings=spellings,
    )
    stream = export_stream(session, format, options)
    # Under ASGI Django would list() a sync iterator (the whole zip) before sending.
    chunks = async_chunks(stream.chunks) if isinstance(request, ASGIRequest) else stream.chunks
    response = StreamingHttpResponse(chunks, content_type=stream.content_type)
    response["Content-Disposition"] = f'attachment; filename="{stream.filename}"'
    return response


class ExportIn(In):
    """The export's choices, as the download's query takes them."""

    model_config = ConfigDict(strict=True, extra="forbid")

    format: ExportFormatName = "kohya"
    images: bool = True
    status: list[StatusName] = []
    trigger_word: Annotated[Text, Field(max_length=200)] | None = None
    separator: Separator | None = None
    underscores: bool | None = None
    escape: bool | None = None
    pin: list[TagName] = Field([], max_length=50)
    keep_tokens_separator: bool = False
    image_dir: Annotated[Text, Field(max_length=1000)] | None = None
    caption_source: CaptionSource | None = None
    spellings: bool = True

    def options(self) -> ExportOptions:
        return ExportOptions(
            trigger_word=self.trigger_word,
            separator=self.separator,
            use_underscores=self.underscores,
            escape_parentheses=self.escape,
            pinned=tuple(self.pin),
            keep_tokens_separator=self.keep_tokens_separator,
            include_images=self.images,
            statuses=tuple(self.status),
            image_dir=self.image_dir,
            caption_source=self.caption_source,
            keep_spellings=self.spellings,
        )


@router.post("/{session_id}/exports", response=answers(JobOut, 201))
def export_start(request: HttpRequest, session_id: Id, payload: ExportIn):
    """Build the export in the background (any member): a job whose bar the session sees."""
    session = session_for(request.auth, session_id)
    job = export_enqueue(session, actor=request.auth, fmt=payload.format, options=payload.options())
    return Status(201, job_shape(job))


@router.get("/{session_id}/exports/{job_id}/file", response=answers(None))
def export_download(request: HttpRequest, session_id: Id, job_id: Id):
    """The file an export job built (members only); 409 until it is done."""
    session = session_for(request.auth, session_id)
    delivery = export_delivery(job_in_session(session, job_id))
    try:
        response = deliver(request, delivery)
    except (StoredFileMissing, FileNotFoundError) as exc:
        raise NotFound("the export's file is missing from storage; build it again") from exc
    # Saved, not shown: a zip or a JSON document is the dataset to keep.
    response["Content-Disposition"] = content_disposition_header(True, delivery.download_name)
    return response


# --- insight -------------------------------------------------------------------------------------


@router.get("/{session_id}/stats", response=answers(TagStatsOut))
def tag_stats(request: HttpRequest, session_id: Id, limit: Limit = 100):
    """Tag frequency, share of images and co-occurrence with the trigger word."""
    session = session_for(request.auth, session_id)
    return insight.session_tag_stats(session, limit=limit)


@router.get("/{session_id}/stats/pruning", response=answers(PruningOut))
def pruning(request: HttpRequest, session_id: Id, min_share: float = Query(0.8, gt=0, le=1)):
    """Tags on at least `min_share` of the images (they bleed into the trigger word)."""
    session = session_for(request.auth, session_id)
    return insight.pruning_candidates(session, min_share=min_share)


@router.get("/{session_id}/stats/images", response=answers(CaptionsOut))
def caption_stats(
    request: HttpRequest,
    session_id: Id,
    max_tags: int = Query(3, ge=0, le=1000),
    max_tokens: int = Query(CLIP_TOKEN_LIMIT, ge=1, le=10_000),
    limit: Limit = 100,
):
    """Images with at most `max_tags` tags or over `max_tokens` CLIP tokens, with token counts."""
    session = session_for(request.auth, session_id)
    check = insight.CaptionCheck(max_tags=max_tags, max_tokens=max_tokens, limit=limit)
    return insight.weak_captions(session, check)
