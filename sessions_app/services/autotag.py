"""A tagger's stored predictions applied to a session's images: one logged, undoable operation.

The predictions are facts about the files (taggers.models.Prediction); what
this writes is the session's say about them. Tags above their category's
threshold are added with source `autotagger` and their score as confidence;
with a suggest threshold, those between it and the accept threshold become
rows of source `suggestion`, which exports leave out until someone accepts
them (batch `accept_source`) or dismisses them (`drop_source`). The model is
named in the event's payload (its folder and the sha256 of its weights):
the tag rows carry the source and the confidence, the log says which model.

Every session image's list is rewritten through services/lists.py, so one
application is one "lists" inverse. A job applies chunk by chunk, each
chunk an event of the job's undo group: one undo takes the whole job back.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import TaggingSession
from sessions_app.outcome import Outcome
from sessions_app.rules import TagRules, session_rules
from sessions_app.services.lists import (
    Row,
    Target,
    after_of,
    gc_paused,
    image_rows,
    lists_inverse,
    lists_write,
)
from sessions_app.services.tag_writer import versions_bump
from sessions_app.sql import entries_in_session
from tagger_project.errors import InvalidInput
from taggers.runtime import Tagger
from taggers.selection import SelectedTag, SelectionOptions, select_tags
from taggers.services import stored_scores, tagger_model_row
from tags.models import Tag, TagCategory, TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_map
from tags.services import tags_get_or_create


class AutotagMode(StrEnum):
    # Keep each image's tags and add the tagger's after them.
    APPEND = "append"
    # Each image's list becomes the tagger's tags.
    REPLACE = "replace"
    # Only images that have no tags yet.
    UNTAGGED = "untagged"


# A tagger's categories as the vocabulary's, for tags it creates.
CATEGORY_OF = {"general": TagCategory.GENERAL, "character": TagCategory.CHARACTER}


@dataclass(frozen=True)
class AutotagOptions:
    selection: SelectionOptions = field(default_factory=SelectionOptions)
    mode: str = AutotagMode.APPEND
    # Scores above this, not above the accept threshold, become suggestions; None for none.
    suggest_threshold: float | None = None

    def as_dict(self) -> dict:
        s = self.selection
        return {
            "mode": str(self.mode),
            "general_threshold": s.general_threshold,
            "character_threshold": s.character_threshold,
            "general_mcut": s.general_mcut,
            "character_mcut": s.character_mcut,
            "include_rating": s.include_rating,
            "exclude": sorted(s.exclude),
            "max_tags": s.max_tags,
            "suggest_threshold": self.suggest_threshold,
        }


def autotag_options(
    *,
    mode: str = AutotagMode.APPEND,
    general_threshold: float = 0.35,
    character_threshold: float = 0.85,
    suggest_threshold: float | None = None,
    general_mcut: bool = False,
    character_mcut: bool = False,
    include_rating: bool = False,
    exclude: Sequence[str] = (),
    max_tags: int | None = None,
) -> AutotagOptions:
    """Checked options; InvalidInput saying which value is wrong, before any work is done."""
    if mode not in AutotagMode.__members__.values():
        raise InvalidInput(
            f"unknown mode {mode!r}", details=[{"allowed": [m.value for m in AutotagMode]}]
        )
    for name, value in (
        ("general_threshold", general_threshold),
        ("character_threshold", character_threshold),
        ("suggest_threshold", suggest_threshold),
    ):
        # NaN fails both comparisons, so it is refused too.
        if value is not None and not (0.0 <= value < 1.0):
            raise InvalidInput(f"{name} must be at least 0 and below 1, not {value}")
    if suggest_threshold is not None and suggest_threshold >= min(
        general_threshold, character_threshold
    ):
        raise InvalidInput(
            "suggest_threshold must be below the general and character thresholds:"
            " suggestions are the band under what is accepted"
        )
    if max_tags is not None and max_tags < 1:
        raise InvalidInput("max_tags must be at least 1")
    selection = SelectionOptions(
        general_threshold=general_threshold,
        character_threshold=character_threshold,
        general_mcut=general_mcut,
        character_mcut=character_mcut,
        include_rating=include_rating,
        exclude=frozenset(name.strip() for name in exclude if name.strip()),
        max_tags=max_tags,
    )
    return AutotagOptions(selection=selection, mode=mode, suggest_threshold=suggest_threshold)


@dataclass
class AutotagResult:
    changed_image_ids: list[int]
    tags_added: int
    suggestions_added: int
    # Selected images with no stored prediction of this model (nothing applied to them).
    unpredicted: int


@transaction.atomic
def autotag_apply(
    session: TaggingSession,
    *,
    actor,
    image_ids: Sequence[int],
    tagger: Tagger,
    options: AutotagOptions,
    job_id: int | None = None,
) -> Outcome[AutotagResult]:
    """Apply `tagger`'s stored predictions to the selected images of the session.

    Images the session does not hold are ignored; images without a stored
    prediction are counted in `unpredicted` and left alone (the caller infers
    first: taggers.services.predictions_for). The session's rules apply:
    blacklisted tags are not added, pinned tags and the category order place
    what is. Returns which images changed, with the one event (if any).
    """
    entry_of = entries_in_session(session.pk, image_ids)
    rules = session_rules(session.pk)
    with gc_paused():
        current = image_rows(entry_of.values())
        if options.mode == AutotagMode.UNTAGGED:
            entry_of = {i: e for i, e in entry_of.items() if not current.get(e)}
        chosen = _chosen_tags(tagger, entry_of, options)
        tags = _tags_for(chosen)
        info = {tag.pk: (tag.name, tag.category) for tag in tags.values()}
        info.update(_labels_of(current))
        targets: dict[int, list[Target]] = {}
        added = suggested = 0
        for image_id, picks in chosen.items():
            entry_id = entry_of[image_id]
            target = _target(current.get(entry_id, []), picks, tags, info, rules, options.mode)
            if target is None:
                continue
            have = {row.tag_id for row in current.get(entry_id, [])}
            new = [t for t in target if t[0] not in have]
            added += sum(1 for t in new if t[2] == TagSource.AUTOTAGGER)
            suggested += sum(1 for t in new if t[2] == TagSource.SUGGESTION)
            targets[entry_id] = target
        before = lists_write(targets, current, actor=actor)
    unpredicted = len(entry_of) - len(chosen)
    if not targets:
        return Outcome(AutotagResult([], 0, 0, unpredicted))
    changed = sorted(targets)
    versions = versions_bump(changed)
    image_of = {entry_id: image_id for image_id, entry_id in entry_of.items()}
    row = tagger_model_row(tagger)
    event = append_event(
        session.pk,
        kind=Kind.AUTOTAG_APPLIED,
        payload={
            "image_ids": sorted(image_of[e] for e in changed),
            "model": row.name,
            "model_sha256": row.sha256,
            "job_id": job_id,
            **({"group": f"job:{job_id}"} if job_id is not None else {}),
            "tags_added": added,
            "suggestions_added": suggested,
            "options": options.as_dict(),
        },
        actor=actor,
        inverse=lists_inverse(before, after_of(targets), versions),
    )
    result = AutotagResult(
        changed_image_ids=sorted(image_of[e] for e in changed),
        tags_added=added,
        suggestions_added=suggested,
        unpredicted=unpredicted,
    )
    return Outcome(result, (event,))


# What the tagger says of one image: (canonical name, source, confidence, category).
Pick = tuple[str, str, float, str]


def _chosen_tags(
    tagger: Tagger, entry_of: dict[int, int], options: AutotagOptions
) -> dict[int, list[Pick]]:
    labels = tagger.labels
    wide = None
    if options.suggest_threshold is not None:
        # The suggestion band: everything above the suggest threshold, no MCut, no cap.
        wide = replace(
            options.selection,
            general_threshold=options.suggest_threshold,
            character_threshold=options.suggest_threshold,
            general_mcut=False,
            character_mcut=False,
            include_rating=False,
            max_tags=None,
        )
    raw: dict[int, list[tuple[SelectedTag, str]]] = {}
    for image_id, scores in stored_scores(tagger, list(entry_of)):
        accepted = select_tags(scores, labels, options.selection)
        picks: list[tuple[SelectedTag, str]] = [(t, TagSource.AUTOTAGGER) for t in accepted]
        if wide is not None:
            taken = {tag.name for tag in accepted}
            picks += [
                (tag, TagSource.SUGGESTION)
                for tag in select_tags(scores, labels, wide)
                if tag.name not in taken
            ]
        raw[image_id] = picks
    canonical = _canonical({tag.name for picks in raw.values() for tag, _ in picks})
    return {
        image_id: [
            (canonical[tag.name], source, round(tag.confidence, 6), tag.category)
            for tag, source in picks
            if tag.name in canonical
        ]
        for image_id, picks in raw.items()
    }


def _canonical(names: set[str]) -> dict[str, str]:
    """The vocabulary's name for each tagger name (normalized, aliases resolved).

    A name the vocabulary cannot spell (too long, control characters) is
    left out rather than failing the whole application.
    """
    normalized: dict[str, str] = {}
    for name in names:
        try:
            normalized[name] = normalize_tag_name(name)
        except InvalidTagName:
            continue
    resolved = resolve_tag_map(normalized.values())
    return {name: resolved[norm] for name, norm in normalized.items()}


def _tags_for(chosen: dict[int, list[Pick]]) -> dict[str, Tag]:
    categories: dict[str, str] = {}
    for picks in chosen.values():
        for name, _, _, category in picks:
            categories.setdefault(name, CATEGORY_OF.get(category, TagCategory.META))
    return tags_get_or_create(list(categories), categories=categories)


def _labels_of(current: dict[int, list[Row]]) -> dict[int, tuple[str, str]]:
    tag_ids = {row.tag_id for rows in current.values() for row in rows}
    return {
        pk: (name, category)
        for pk, name, category in Tag.objects.filter(pk__in=tag_ids).values_list(
            "pk", "name", "category"
        )
    }


def _target(
    rows: list[Row],
    picks: list[Pick],
    tags: dict[str, Tag],
    info: dict[int, tuple[str, str]],
    rules: TagRules,
    mode: str,
) -> list[Target] | None:
    """The image's new list, or None when the tagger adds nothing to it."""
    kept = [] if mode == AutotagMode.REPLACE else rows
    have = {row.tag_id for row in kept}
    new: list[tuple[int, str, float | None]] = []
    for name, source, confidence, _ in picks:
        tag = tags[name]
        if tag.pk in have or rules.sort_key(tag.name, tag.category) is None:
            continue
        have.add(tag.pk)
        new.append((tag.pk, source, confidence))
    if not new and mode != AutotagMode.REPLACE:
        return None
    listed = [(row.tag_id, row.source, row.confidence) for row in kept] + new
    if rules.pinned or rules.category_order:
        listed.sort(key=lambda item: rules.sort_key(*info[item[0]]) or (2, 0))
    target = [(tag_id, place, source, conf) for place, (tag_id, source, conf) in enumerate(listed)]
    if mode == AutotagMode.REPLACE and [t[0] for t in target] == [r.tag_id for r in rows]:
        same = all(
            (t[2], t[3]) == (r.source, r.confidence) for t, r in zip(target, rows, strict=True)
        )
        if same:
            return None
    return target
