"""Import of a whole dataset (Tagger JSON, kohya metadata, JSON Lines, hydrus) into a session.

The readers in `datasets.importing_formats` say what the dataset holds;
this module writes it through the same services as every other door. Image
files go through the same checks and storage as `import_images` and uploads
(`process_image_bytes`, `image_files_store`, `session_import_processed`), one
transaction per image: its row, its place in the session, its tags, its status.

Caption formats (kohya-json, jsonl, hydrus) merge their tags like caption
files do (source "caption", implications applied). Tagger JSON is a backup:
tags keep their order, sources and confidences exactly, and the session's
settings, categories, aliases and implications come back with them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from datasets import backup
from datasets.caption_style import CaptionStyle, spell_name
from datasets.importing_formats import Dataset, DatasetImage, OpenedDataset
from datasets.importing_formats.captions import drop_trigger_prefix, drop_trigger_word
from datasets.importing_formats.source import OutsideDataset
from images.models import Image
from images.processing import ImageRejected
from images.services import display_name, image_files_store, image_process_bytes
from sessions_app.models import ImageStatus, SessionEvent, SessionImage, TaggingSession
from sessions_app.outcome import Outcome
from sessions_app.repeat_folders import RepeatFolder, repeat_folder_of
from sessions_app.services.importing import ImportOutcome, Status, session_import_processed
from sessions_app.services.sessions import (
    session_image_set_status,
    session_images_add,
    session_update,
)
from sessions_app.services.subsets import kept_apart, subsets_place
from sessions_app.services.tagging import (
    TagListState,
    current_entries,
    lock_entry,
    obey_rules,
    rewrite_tag_list,
    tag_spellings_set,
)
from sessions_app.services.written_caption import caption_replace
from tagger_project.errors import DomainError, InvalidInput
from tags.models import Tag, TagAlias, TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.services import (
    alias_create,
    implication_create,
    tag_categories_set,
    tags_get_or_create,
)


@dataclass
class DatasetReport:
    """Counts like import_images, plus problems: things not imported as they stood."""

    format: str
    imported: int = 0
    duplicates: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    # A backup's members whose user name this installation does not have.
    missing_users: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        answer = dataclasses.asdict(self)
        if self.format != "json":  # only a backup has members
            del answer["missing_users"]
        return answer

    def problem(self, where: str, reason: str) -> None:
        self.problems.append({"path": where, "reason": reason})


def dataset_import(
    session: TaggingSession,
    *,
    actor,
    opened: OpenedDataset,
    on_image: Callable[[], None] = lambda: None,
) -> Outcome[DatasetReport]:
    """Import every image of the dataset into the session, then its categories and subsets.

    An image whose file sits directly in a kohya repeat folder (`10_ohwx/x.png`)
    joins that subset of the session (sessions_app/repeat_folders.py).

    The categories a dataset gives (hydrus namespaces, a Tagger JSON vocabulary)
    are set only on the tags this import creates: a tag that existed keeps its
    category, whatever another session's file says, and a difference is reported.
    A Tagger JSON backup is restored in one transaction (datasets.backup has
    what else it brings back); a DomainError from it leaves nothing written.
    """
    if opened.format != "json":
        return _dataset_import(session, actor, opened, on_image)
    backup.rules_check(opened.dataset)  # refused before anything is written
    with transaction.atomic():
        return _dataset_import(session, actor, opened, on_image)


def _dataset_import(
    session: TaggingSession, actor, opened: OpenedDataset, on_image: Callable[[], None]
) -> Outcome[DatasetReport]:
    dataset = opened.dataset
    report = DatasetReport(opened.format)
    events: list[SessionEvent] = []
    for problem in dataset.problems:
        report.problem(problem.where, problem.reason)
    if dataset.settings:
        events += _apply_settings(session, actor, dataset.settings, report)
    if dataset.style and not SessionImage.objects.filter(session=session).exists():
        # The first import into a session sets how it exports; a later one
        # into a session with images of its own leaves that session's style.
        events += _apply_settings(session, actor, dataset.style, report)
    spelled_as = CaptionStyle.of(session.caption_style).family()
    existing = _existing_categories(
        [*dataset.categories, *(t.name for i in dataset.images for t in i.tags if t.category)]
    )
    _apply_vocabulary(dataset, report, existing)
    backup.describe_new_tags(dataset, _canonical(dataset.popularity), set(existing))
    for step in backup.BEFORE_IMAGES:
        events += step(session, actor, dataset, report)
    categories: dict[str, str] = {}
    placements: dict[RepeatFolder, list[int]] = {}
    placed: list[tuple[str, int, RepeatFolder]] = []  # a repeat folder's file, its image
    for item in dataset.images:
        try:
            imported = _import_image(session, actor, opened, item, report, spelled_as)
            outcome = imported.value
            events += imported.events
        except InvalidInput as error:
            # A caption the session cannot hold (a control character, too long): that image only.
            report.skipped.append({"path": item.file, "reason": error.message})
            outcome = None
        if outcome is not None:
            _count(outcome, report, item.file)
            categories |= {tag.name: tag.category for tag in item.tags if tag.category}
            folder = repeat_folder_of(item.file)
            if folder is not None and outcome.image_id is not None:
                placements.setdefault(folder, []).append(outcome.image_id)
                placed.append((item.file, outcome.image_id, folder))
        on_image()
    _apply_categories(categories, report, existing)
    if placements:
        # One event for the whole dataset; a rerun places again what a crash left flat.
        placing = subsets_place(session, actor=actor, placements=placements)
        events += placing.events
        for file, stays_in in kept_apart(placed, placing.value):
            report.problem(file, f"the same image is in {stays_in}/; it stays there")
    for step in backup.AFTER_IMAGES:
        events += step(session, actor, dataset, report)
    return Outcome(report, tuple(events))


def _existing_categories(raw_names: Iterable[str]) -> dict[str, str]:
    """Canonical name → category of those of these tags that exist now."""
    names = list(dict.fromkeys(_canonical(raw_names).values()))
    existing: dict[str, str] = {}
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        existing.update(Tag.objects.filter(name__in=chunk).values_list("name", "category"))
    return existing


def _count(outcome: ImportOutcome, report: DatasetReport, where: str) -> None:
    if outcome.status == "imported":
        report.imported += 1
    elif outcome.status == "duplicate":
        report.duplicates += 1
    else:
        report.skipped.append({"path": where, "reason": outcome.reason})
    for skipped in outcome.skipped_tags:
        report.problem(where, f"tag {skipped.token!r} skipped: {skipped.reason}")


def _apply_settings(
    session, actor, wanted: dict[str, Any], report: DatasetReport
) -> list[SessionEvent]:
    changes = {key: value for key, value in wanted.items() if getattr(session, key) != value}
    if not changes:
        return []
    try:
        return list(session_update(session, actor=actor, **changes).events)
    except DomainError as error:
        report.problem("session", f"settings not applied: {error.message}")
        return []


def _apply_vocabulary(dataset: Dataset, report: DatasetReport, existing: dict[str, str]) -> None:
    """Tags with their categories first, so that aliases and implications have their tags."""
    names = _canonical(
        [*dataset.categories, *(name for pair in dataset.aliases for name in pair[1:])]
    )
    tags = tags_get_or_create(list(dict.fromkeys(names.values())))
    _apply_categories(dataset.categories, report, existing)
    for alias, target in dataset.aliases:
        if target not in names:
            continue
        tag = tags[names[target]]
        try:
            if not TagAlias.objects.filter(name=normalize_tag_name(alias), tag=tag).exists():
                alias_create(tag, name=alias)
        except DomainError as error:
            report.problem(
                "vocabulary", f"alias {alias!r} → {target!r} not created: {error.message}"
            )
    implied = _canonical(name for pair in dataset.implications for name in pair)
    implied_tags = tags_get_or_create(list(dict.fromkeys(implied.values())))
    for tag_name, implied_name in dataset.implications:
        if tag_name not in implied or implied_name not in implied:
            continue
        try:
            implication_create(
                implied_tags[implied[tag_name]], implied=implied_tags[implied[implied_name]]
            )
        except DomainError as error:
            report.problem(
                "vocabulary", f"{tag_name!r} ⇒ {implied_name!r} not created: {error.message}"
            )


def _apply_categories(
    categories: dict[str, str], report: DatasetReport, existing: dict[str, str]
) -> None:
    """Set the categories of the tags that did not exist before the import."""
    names = _canonical(categories)
    wanted: dict[str, str] = {}
    kept: set[str] = set()
    for raw, category in categories.items():
        if raw not in names:
            continue
        name = names[raw]
        if name not in existing:
            wanted[name] = category
        elif existing[name] != category and name not in kept:
            kept.add(name)
            report.problem(
                "vocabulary",
                f"tag {name!r} keeps its category {existing[name]!r} (the dataset says "
                f"{str(category)!r})",
            )
    try:
        tag_categories_set(wanted)
    except DomainError as error:
        report.problem("vocabulary", f"categories not applied: {error.message}")


def _canonical(raw_names: Iterable[str]) -> dict[str, str]:
    """Raw name → canonical name (normalized, aliases resolved); invalid names left out."""
    normalized: dict[str, str] = {}
    for raw in raw_names:
        try:
            normalized[raw] = normalize_tag_name(raw)
        except InvalidTagName:
            continue
    aliases = dict(
        TagAlias.objects.filter(name__in=set(normalized.values())).values_list("name", "tag__name")
    )
    return {raw: aliases.get(name, name) for raw, name in normalized.items()}


def _import_image(
    session: TaggingSession,
    actor,
    opened: OpenedDataset,
    item: DatasetImage,
    report,
    spelled_as: str = "",
) -> Outcome[ImportOutcome | None]:
    """Store one image and its tags; None when it was skipped (reported)."""
    name = item.original_name or item.file
    try:
        data = opened.source.read(item.file, max_bytes=settings.TAGGER_MAX_UPLOAD_BYTES)
    except OutsideDataset as error:
        # Refused outright: not even matched by sha256 against the library.
        report.skipped.append({"path": item.file, "reason": str(error)})
        return Outcome(None)
    except OSError as error:
        existing = Image.objects.filter(sha256=item.sha256).first() if item.sha256 else None
        if existing is None:
            report.skipped.append({"path": item.file, "reason": str(error)})
            return Outcome(None)
        # Tagger JSON without its images, into a library that has them: the rows suffice.
        with transaction.atomic():
            added = session_images_add(
                session, actor=actor, images=[existing], names={existing.pk: display_name(name)}
            )
            written = _write_tags_and_status(session, actor, existing.pk, item, report)
        status: Status = "imported" if added.value else "duplicate"
        return added.then(ImportOutcome(status, name, image_id=existing.pk), written)
    try:
        processed = image_process_bytes(data)
    except ImageRejected as rejected:
        report.skipped.append({"path": item.file, "reason": rejected.reason})
        return Outcome(None)
    if item.sha256 and item.sha256 != processed.sha256:
        report.problem(item.file, "content differs from the document's sha256")
    image_files_store(processed)  # files before the transaction, as every import does
    metadata = {**processed.metadata, **item.metadata}
    if item.exact:
        processed = dataclasses.replace(
            processed,
            caption_tokens=[],
            prompt_tokens=[],
            metadata=metadata,
            written_caption=item.caption,
        )
    else:
        tokens = drop_trigger_word([tag.name for tag in item.tags], session.trigger_word)
        processed = dataclasses.replace(
            processed,
            caption_tokens=tokens,
            metadata=metadata,
            written_caption=_written_caption(session, item),
        )
    with transaction.atomic():
        imported = session_import_processed(
            session, actor=actor, processed=processed, original_name=name
        )
        image_id = imported.value.image_id
        written = _write_tags_and_status(session, actor, image_id, item, report)
        if spelled_as and image_id is not None and not item.exact:
            tag_spellings_set(session, image_id, spellings=_spellings(session, item))
    return imported.then(imported.value, written)


def _spellings(session: TaggingSession, item: DatasetImage) -> dict[str, str]:
    """Canonical name → token as the file wrote it, where the session would spell it otherwise."""
    written = {tag.name: (tag.written or tag.name).strip() for tag in item.tags}
    canonical = _canonical(written)
    spellings: dict[str, str] = {}
    for raw, name in canonical.items():
        token = written[raw]
        usual = spell_name(
            name,
            use_underscores=session.use_underscores,
            escape_parentheses=session.escape_parentheses,
        )
        if token != usual:
            spellings.setdefault(name, token)
        else:
            spellings.setdefault(name, "")
    return {name: token for name, token in spellings.items() if token}


def _stored_spellings(item: DatasetImage) -> dict[str, str]:
    """Canonical name → spelling, as a backup stored them (kept as they were, not re-derived)."""
    written = {tag.name: tag.written for tag in item.tags if tag.written}
    return {name: written[raw] for raw, name in _canonical(written).items()}


def _written_caption(session: TaggingSession, item: DatasetImage) -> str:
    """The item's written caption; a trainer format's has the trigger word export put first."""
    if item.exact:
        return item.caption
    return drop_trigger_prefix(item.caption, session.trigger_word, session.separator)


def _write_tags_and_status(
    session, actor, image_id, item: DatasetImage, report
) -> list[SessionEvent]:
    events: list[SessionEvent] = []
    if item.exact and item.tags:
        entries = _entries(item, report)
        events += tags_restore(session, image_id, actor=actor, entries=entries).events
        tag_spellings_set(session, image_id, spellings=_stored_spellings(item))
    if item.caption:
        # A no-op for an image this import created with it; an edit for one already here.
        text = _written_caption(session, item)
        events += caption_replace(session, image_id, actor=actor, text=text).events
    if item.status and item.status != ImageStatus.TODO:
        if item.status not in ImageStatus.values:
            report.problem(item.file, f"unknown status {item.status!r}; left as todo")
            return events
        current = SessionImage.objects.filter(session=session, image_id=image_id).values_list(
            "status", flat=True
        )
        if current.first() != item.status:
            status = item.status
            events += session_image_set_status(
                session, actor=actor, image_id=image_id, status=status
            ).events
    return events


def _entries(item: DatasetImage, report: DatasetReport) -> list[tuple[str, str, float | None]]:
    entries = []
    for tag in item.tags:
        try:
            normalize_tag_name(tag.name)
        except InvalidTagName as error:
            report.problem(item.file, f"tag {tag.name!r} skipped: {error.reason}")
            continue
        source = tag.source if tag.source in TagSource.values else TagSource.CAPTION
        if tag.source and tag.source not in TagSource.values:
            report.problem(item.file, f"tag {tag.name!r}: unknown source {tag.source!r}")
        confidence = tag.confidence
        if confidence is not None and not 0 <= confidence <= 1:
            report.problem(item.file, f"tag {tag.name!r}: confidence {confidence} dropped")
            confidence = None
        entries.append((tag.name, source, confidence))
    return entries


@transaction.atomic
def tags_restore(
    session, image_id: int, *, actor, entries: list[tuple[str, str, float | None]]
) -> Outcome[TagListState]:
    """Give the session's image these tags, in this order, with these sources and confidences.

    Tags the image already has keep their place and provenance; the entries it
    lacks follow them. Nothing is implied: a restored list already holds what
    its implications added. The session's rules apply.
    Invalid names are skipped (the caller reports them).
    """
    image = lock_entry(session, image_id)
    canonical = _canonical(name for name, _, _ in entries)
    tags = tags_get_or_create(list(dict.fromkeys(canonical.values())))
    before = current_entries(image.pk)
    after = list(before)
    present = {tag_id for tag_id, _, _ in before}
    for name, source, confidence in entries:
        if name not in canonical:
            continue
        tag_id = tags[canonical[name]].pk
        if tag_id not in present:
            present.add(tag_id)
            after.append((tag_id, source, confidence))
    after = obey_rules(image.session_id, after)
    return rewrite_tag_list(image, actor=actor, before=before, after=after)
