"""Import of one image into a session: its row, its place in the session, its tags.

The upload API calls `session_import_bytes` (one image, one transaction); the
import command processes files in worker processes and calls
`session_import_batch` from its one writer thread: a small group of images per
transaction, new content written set-based. Both go through the same services
as every other door (so the session log gets `images.added` and
`tags.changed` events and open browsers see the images arrive).

Counting, the same for every door: an image is "imported" when it joins the
session, a "duplicate" when the session already holds its content (an earlier
file of the same import, or a previous import: a rerun after a crash counts
what the crashed run committed as duplicates). A duplicate's caption tags are
merged into the image's tags. "skipped" files were refused with a reason.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from images.models import Image
from images.processing import ImageRejected, ProcessedImage
from images.services import (
    StoredFiles,
    display_name,
    image_files_store,
    image_process_bytes,
    image_store,
)
from images.sidecars import CaptionError, parse_caption
from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import (
    ImageStatus,
    SessionEvent,
    SessionImage,
    SessionImageTag,
    TaggingSession,
)
from sessions_app.outcome import Outcome, gathered
from sessions_app.repeat_folders import parse_repeat_folder
from sessions_app.rules import apply_rules, apply_rules_to_ids, session_rules
from sessions_app.services.sessions import session_images_add
from sessions_app.services.subsets import subsets_place
from sessions_app.services.tag_writer import in_caption, tag_counts_add
from sessions_app.services.tagging import tags_add
from sessions_app.services.written_caption import caption_replace, check_caption
from tagger_project.db import rows_insert
from tagger_project.errors import Conflict, DomainError, InvalidInput
from tags.models import Tag, TagImplication, TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_map, resolve_tag_names
from tags.services import implied_closure, tags_get_or_create

Status = Literal["imported", "duplicate", "skipped"]


@dataclass(frozen=True)
class SkippedTag:
    """A caption or prompt token that is not a valid tag name; the image still imports."""

    token: str
    reason: str


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file: imported, duplicate (with the image) or skipped (with why)."""

    status: Status
    original_name: str
    image_id: int | None = None
    reason: str = ""
    skipped_tags: tuple[SkippedTag, ...] = ()

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "name": self.original_name,
            "image_id": self.image_id,
            "reason": self.reason,
            "skipped_tags": [{"tag": s.token, "reason": s.reason} for s in self.skipped_tags],
        }


@dataclass(frozen=True)
class ImportItem:
    """A processed file for session_import_batch; ``files`` are its storage names once stored."""

    processed: ProcessedImage
    original_name: str
    files: StoredFiles | None = None


def session_import_bytes(
    session: TaggingSession,
    *,
    actor,
    data: bytes,
    original_name: str,
    caption: bytes | None = None,
    caption_name: str = "caption.txt",
    folder: str = "",
) -> Outcome[ImportOutcome]:
    """Check, store and add one uploaded image to the session, with its prompt tags.

    `folder` is the folder the file was picked from: a kohya repeat folder
    (`10_ohwx`) puts the image in that subset, created if missing.

    `caption` is the content of the `.txt` uploaded beside it: its tags become
    the image's (source "caption"), as an import of a folder does.
    A file that is not an acceptable image is not an error: the outcome says
    "skipped" with the reason, so a multi-file upload reports per file.
    """
    try:
        processed = image_process_bytes(data)
        if caption is not None:
            processed = _with_caption_tags(processed, parse_caption(caption, filename=caption_name))
    except ImageRejected as rejected:
        return Outcome(ImportOutcome("skipped", original_name, reason=rejected.reason))
    except CaptionError as error:
        return Outcome(ImportOutcome("skipped", original_name, reason=error.reason))
    # Files before the transaction: the database's write lock is not held during file I/O.
    image_files_store(processed)
    outcome = session_import_processed(
        session, actor=actor, processed=processed, original_name=original_name
    )
    repeat_folder = parse_repeat_folder(folder) if folder else None
    image_id = outcome.value.image_id
    if repeat_folder is None or image_id is None:
        return outcome
    placed = subsets_place(session, actor=actor, placements={repeat_folder: [image_id]})
    return outcome.then(outcome.value, placed)


def _with_caption_tags(processed: ProcessedImage, sidecar) -> ProcessedImage:
    if sidecar.kind == "prose":
        try:
            check_caption(sidecar.text)
        except InvalidInput as error:
            raise CaptionError(f"{sidecar.filename}: {error.message}") from None
        return dataclasses.replace(processed, written_caption=sidecar.text)
    # Generation infotext in a .txt says nothing the image's own metadata does not.
    if sidecar.kind != "tags":
        return processed
    if sidecar.text:  # a tag list, then a sentence: both are kept
        try:
            check_caption(sidecar.text)
        except InvalidInput as error:
            raise CaptionError(f"{sidecar.filename}: {error.message}") from None
    return dataclasses.replace(processed, caption_tokens=sidecar.tags, written_caption=sidecar.text)


def session_import_processed(
    session: TaggingSession, *, actor, processed: ProcessedImage, original_name: str
) -> Outcome[ImportOutcome]:
    """Add a processed image to the session in one transaction (retried once on a race).

    Caption tokens are merged as tags of source "caption"; without them, the
    embedded prompt's tokens become tags of source "prompt" if the image has
    no tags yet. Invalid tokens are skipped one by one, with their reason.
    """
    try:
        return _import_once(session, actor, processed, original_name)
    except Conflict:
        # Someone added the same image to this session at the same moment:
        # the second attempt finds it there and counts a duplicate.
        return _import_once(session, actor, processed, original_name)


@transaction.atomic
def _import_once(
    session: TaggingSession, actor, processed: ProcessedImage, original_name: str
) -> Outcome[ImportOutcome]:
    names, skipped, source = _tag_names(processed)
    caption = check_caption(processed.written_caption)
    image, created = image_store(processed, original_name=original_name, actor=actor)
    if created:
        events = _add_new_image(
            session, actor=actor, image=image, names=names, source=source, caption=caption
        )
        status: Status = "imported"
    else:
        status, events = _add_known_image(
            session,
            actor=actor,
            image=image,
            names=names,
            source=source,
            caption=caption,
            original_name=original_name,
        )
    imported = ImportOutcome(status, original_name, image_id=image.pk, skipped_tags=skipped)
    return Outcome(imported, tuple(events))


def _add_new_image(
    session: TaggingSession, *, actor, image: Image, names: list[str], source: str, caption: str
) -> list[SessionEvent]:
    """Give a just-created image its tags and its place in the session: one event.

    The image is new in this transaction, so no one has seen it, it has no
    tags and no session holds it: its tags are its initial state (version 0),
    set in a few set-based statements, and a client learns of both from the
    one `images.added` event. This is the hot path of a 10,000-image import.
    """
    tags = list(tags_get_or_create(resolve_tag_names(names)).values()) if names else []
    tag_ids = [tag.pk for tag in tags]
    entries = [(tag_id, source) for tag_id in tag_ids]
    entries += [(tag_id, TagSource.IMPLICATION) for tag_id in implied_closure(tag_ids)]
    entries = apply_rules_to_ids(entries, session_rules(session.pk), tag_id=lambda entry: entry[0])
    # The event first: its UPDATE locks the session row, so concurrent imports
    # into one session take positions one after the other.
    event = append_event(
        session.pk, kind=Kind.IMAGES_ADDED, payload={"image_ids": [image.pk]}, actor=actor
    )
    top = SessionImage.objects.filter(session=session).aggregate(top=Max("position"))["top"]
    entry = SessionImage.objects.create(
        session=session,
        image=image,
        position=(top or 0) + 1,
        caption=caption,
        original_name=image.original_name,
    )
    if entries:
        _tags_insert([(entry.pk, entries)], actor=actor, now=timezone.now())
        tag_counts_add({tag_id: int(in_caption(source)) for tag_id, source in entries})
    return [event]


def _add_known_image(
    session: TaggingSession,
    *,
    actor,
    image: Image,
    names: list[str],
    source: str,
    caption: str,
    original_name: str,
) -> tuple[Status, list[SessionEvent]]:
    """Add an image the library already holds; merge caption tags through the tag services.

    Another session holding the same bytes shares nothing of its caption: the
    entry starts empty here, whatever the other sessions say about the image.
    """
    added = session_images_add(
        session, actor=actor, images=[image], names={image.pk: display_name(original_name)}
    )
    curated = SessionImageTag.objects.filter(entry__session=session, entry__image=image).exists()
    if names and source == TagSource.PROMPT and curated:
        # The prompt is only a starting point: never pile it onto curated tags.
        names = []
    events = list(added.events)
    if names:
        events += tags_add(session, image.pk, actor=actor, names=names, source=source).events
    if caption:
        events += caption_replace(session, image.pk, actor=actor, text=caption).events
    return ("imported" if added.value else "duplicate"), events


def session_import_batch(
    session: TaggingSession, *, actor, items: Sequence[ImportItem]
) -> Outcome[list[ImportOutcome]]:
    """Import a group of processed files in one transaction; one outcome per item, in order.

    What session_import_processed does image by image, in a few set-based
    statements per group: new content gets its rows, places and tags in bulk
    and one `images.added` event per run of new images; content the library
    already holds (duplicates, a rerun) takes the per-image path in the same
    transaction. All or nothing, so no image is ever half imported. If the
    group fails (a concurrent import of the same content, a refused tag edit),
    each image is retried in its own transaction, so one image cannot fail
    the others; a DomainError then skips that image with its message.
    """
    stored = [
        item if item.files else ImportItem(item.processed, item.original_name, _store(item))
        for item in items
    ]
    try:
        with transaction.atomic():
            return _import_group(session, actor, stored)
    except (DomainError, IntegrityError):
        alone = [_import_alone(session, actor, item) for item in stored]
        return gathered([outcome.value for outcome in alone], alone)


def _store(item: ImportItem) -> StoredFiles:
    # Files before the transaction: the database's write lock is not held during file I/O.
    return image_files_store(item.processed)


def _import_alone(session: TaggingSession, actor, item: ImportItem) -> Outcome[ImportOutcome]:
    try:
        return session_import_processed(
            session, actor=actor, processed=item.processed, original_name=item.original_name
        )
    except DomainError as error:
        return Outcome(ImportOutcome("skipped", item.original_name, reason=error.message))


def _import_group(
    session: TaggingSession, actor, items: Sequence[ImportItem]
) -> Outcome[list[ImportOutcome]]:
    """Runs of new content in bulk, known content one by one, in file order."""
    known = Image.objects.in_bulk({item.processed.sha256 for item in items}, field_name="sha256")
    outcomes: list[ImportOutcome] = []
    events: list[SessionEvent] = []
    fresh: list[ImportItem] = []
    for item in items:
        sha256 = item.processed.sha256
        if sha256 not in known and not any(f.processed.sha256 == sha256 for f in fresh):
            fresh.append(item)
            continue
        if fresh:  # earlier files first: positions follow file order
            added = _add_new_images(session, actor, fresh, known)
            outcomes += added.value
            events += added.events
            fresh = []
        image = known[sha256]
        names, skipped, source = _tag_names(item.processed)
        status, merged = _add_known_image(
            session,
            actor=actor,
            image=image,
            names=names,
            source=source,
            caption=item.processed.written_caption,
            original_name=item.original_name,
        )
        events += merged
        outcomes.append(
            ImportOutcome(status, item.original_name, image_id=image.pk, skipped_tags=skipped)
        )
    if fresh:
        added = _add_new_images(session, actor, fresh, known)
        outcomes += added.value
        events += added.events
    return Outcome(outcomes, tuple(events))


def _add_new_images(
    session: TaggingSession, actor, items: Sequence[ImportItem], known: dict[str, Image]
) -> Outcome[list[ImportOutcome]]:
    """_add_new_image for a run of new, distinct contents: a handful of statements in all.

    Adds the created rows to ``known``. The rows' files were stored by the caller.
    """
    for item in items:
        # A refused caption fails the group; each image is then retried alone and skipped.
        check_caption(item.processed.written_caption)
    images = _images_create([_new_image(item, actor) for item in items], actor=actor)
    tagging = [_tag_names(item.processed) for item in items]
    canonical = resolve_tag_map(name for names, _, _ in tagging for name in names)
    tags = tags_get_or_create(list(dict.fromkeys(canonical.values())))
    implied = _implication_graph([tag.pk for tag in tags.values()])
    lists: list[list[tuple[int, str]]] = []
    for names, _, source in tagging:
        tag_ids = [tags[name].pk for name in dict.fromkeys(canonical[name] for name in names)]
        entries = [(tag_id, source) for tag_id in tag_ids]
        entries += [(tag_id, TagSource.IMPLICATION) for tag_id in _closure(tag_ids, implied)]
        lists.append(entries)
    rules = session_rules(session.pk)
    if not rules.empty:
        info = _tag_info({tag_id for entries in lists for tag_id, _ in entries})
        lists = [
            apply_rules(
                entries,
                rules,
                name=lambda entry: info[entry[0]][0],
                category=lambda entry: info[entry[0]][1],
            )
            for entries in lists
        ]
    image_ids = [image.pk for image in images]
    # The event first: its UPDATE locks the session row, so concurrent imports
    # into one session take positions one after the other.
    event = append_event(
        session.pk, kind=Kind.IMAGES_ADDED, payload={"image_ids": image_ids}, actor=actor
    )
    top = SessionImage.objects.filter(session=session).aggregate(top=Max("position"))["top"] or 0
    now = timezone.now()
    # Raw rows, not bulk_create: preparing ~2,000 model instances' values per
    # group cost the writer ~0.1 s of Python per 330 images, and every image
    # of an import waits on the writer.
    rows_insert(
        SessionImage,
        ("image", "position", "caption", "original_name"),
        [
            (image.pk, top + offset, item.processed.written_caption, image.original_name)
            for offset, (image, item) in enumerate(zip(images, items, strict=True), start=1)
        ],
        session=session.pk,
        status=ImageStatus.TODO,
        version=0,
        caption_version=0,
        subset=None,
        added_at=now,
    )
    entry_of = dict(
        SessionImage.objects.filter(session=session, image_id__in=image_ids).values_list(
            "image_id", "pk"
        )
    )
    entry_ids = [entry_of[image_id] for image_id in image_ids]
    _tags_insert(zip(entry_ids, lists, strict=True), actor=actor, now=now)
    _count_images(
        Counter(tag_id for entries in lists for tag_id, source in entries if in_caption(source))
    )
    known.update((image.sha256, image) for image in images)
    imported = [
        ImportOutcome("imported", item.original_name, image_id=image.pk, skipped_tags=skipped)
        for item, image, (_, skipped, _) in zip(items, images, tagging, strict=True)
    ]
    return Outcome(imported, (event,))


def _tags_insert(
    tag_lists: Iterable[tuple[int, list[tuple[int, str]]]], *, actor, now: datetime
) -> None:
    """Write new session images' tags, (tag id, source) in caption order per entry id."""
    rows_insert(
        SessionImageTag,
        ("entry", "tag", "position", "source"),
        [
            (image_id, tag_id, position, source)
            for image_id, entries in tag_lists
            for position, (tag_id, source) in enumerate(entries)
        ],
        confidence=None,
        added_by=getattr(actor, "pk", None),
        created_at=now,
        spelling="",
    )


# The columns of a new Image that differ from row to row, in _images_create's order.
_IMAGE_COLUMNS = (
    "sha256",
    "file",
    "thumbnail",
    "display",
    "original_name",
    "width",
    "height",
    "format",
    "byte_size",
    "metadata",
)


def _images_create(images: list[Image], *, actor) -> list[Image]:
    """Insert new Image rows and give the instances their ids, as bulk_create would.

    Raw rows: bulk_create compiles each of ~3,600 values per 330 images in
    Python (~0.08 s of the writer's CPU).
    The ids are read back by sha256, which is unique.
    """
    metadata = Image._meta.get_field("metadata")
    now = timezone.now()
    rows = [
        (
            image.sha256,
            image.file.name,
            image.thumbnail.name,
            image.display.name,
            image.original_name,
            image.width,
            image.height,
            image.format,
            image.byte_size,
            metadata.get_db_prep_save(image.metadata, connection),
        )
        for image in images
    ]
    rows_insert(Image, _IMAGE_COLUMNS, rows, imported_by=getattr(actor, "pk", None), created_at=now)
    ids = dict(
        Image.objects.filter(sha256__in=[image.sha256 for image in images]).values_list(
            "sha256", "pk"
        )
    )
    for image in images:
        image.pk, image.created_at = ids[image.sha256], now
        image._state.adding, image._state.db = False, connection.alias
    return images


def _new_image(item: ImportItem, actor) -> Image:
    processed = item.processed
    files = item.files or _store(item)
    return Image(
        sha256=processed.sha256,
        file=files.original,
        thumbnail=files.thumbnail,
        display=files.display,
        original_name=display_name(item.original_name),
        width=processed.width,
        height=processed.height,
        format=processed.format,
        byte_size=processed.byte_size,
        metadata=processed.metadata,
        imported_by=actor,
    )


def _tag_names(processed: ProcessedImage) -> tuple[list[str], tuple[SkippedTag, ...], str]:
    """The image's tag names (caption, else prompt), the refused tokens, and their source."""
    if processed.caption_tokens:
        names, skipped = valid_tag_names(processed.caption_tokens)
        return names, tuple(skipped), TagSource.CAPTION
    names, skipped = valid_tag_names(processed.prompt_tokens)
    return names, tuple(skipped), TagSource.PROMPT


def _implication_graph(tag_ids: Iterable[int]) -> dict[int, list[int]]:
    """Every implication edge reachable from the tags: one query per level, for a whole group."""
    graph: dict[int, list[int]] = defaultdict(list)
    seen = set(tag_ids)
    frontier = set(seen)
    while frontier:
        edges = TagImplication.objects.filter(tag_id__in=frontier)
        frontier = set()
        for tag_id, implied_id in edges.values_list("tag_id", "implied_id"):
            graph[tag_id].append(implied_id)
            if implied_id not in seen:
                frontier.add(implied_id)
        seen |= frontier
    return graph


def _closure(tag_ids: Sequence[int], graph: dict[int, list[int]]) -> list[int]:
    """tags.services.implied_closure over a loaded graph: the same tags in the same order."""
    seen = set(tag_ids)
    frontier = set(seen)
    implied: list[int] = []
    while frontier:
        frontier = {i for tag_id in frontier for i in graph.get(tag_id, ()) if i not in seen}
        seen |= frontier
        implied.extend(sorted(frontier))
    return implied


def _tag_info(tag_ids: set[int]) -> dict[int, tuple[str, str]]:
    rows = Tag.objects.filter(pk__in=tag_ids).values_list("pk", "name", "category")
    return {pk: (name, category) for pk, name, category in rows}


def _count_images(counts: Counter[int]) -> None:
    """Add each tag's new images to its count: one UPDATE per distinct increment."""
    tag_counts_add(counts)


def valid_tag_names(tokens: Iterable[str]) -> tuple[list[str], list[SkippedTag]]:
    """Split raw tokens into those that normalize to a tag name and those refused (why)."""
    names: list[str] = []
    skipped: list[SkippedTag] = []
    for token in tokens:
        try:
            names.append(normalize_tag_name(token))
        except InvalidTagName as error:
            skipped.append(SkippedTag(token, error.reason))
    return names, skipped
