"""Undo and redo of a user's own operations, built on the session event log.

Every undoable event records its inverse. A user's undo and redo stacks are
derived by replaying their events in the session: a new operation pushes on
the undo stack and clears the redo stack; an undo (an event whose payload has
`undo_of`) moves it to the redo stack; a redo (`redo_of`) moves it back.
Undo applies the inverse only if nobody has changed the affected images
since: otherwise it is refused with the reason, never clobbering their work.
Events that share a `group` in their payload (a job's chunks) are one
operation: undone and redone together, in one transaction.
One's own undos and redos since do not count as changes: each leaves an image
as it was before the operation it reversed (see `own_reversals`).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import (
    SessionEvent,
    SessionImage,
    SessionImageTag,
    SessionSubset,
    TaggingSession,
)
from sessions_app.outcome import Outcome, gathered
from sessions_app.rules import TagRules, session_rules
from sessions_app.services.lists import (
    after_of,
    gc_paused,
    image_rows,
    lists_inverse,
    lists_targets,
    lists_write,
)
from sessions_app.services.rules import rules_save
from sessions_app.services.sessions import session_image_set_status
from sessions_app.services.subsets import (
    current_subsets,
    lock_subset,
    subset_create,
    subset_delete,
    subset_fields,
    subset_images,
    subset_moves_write,
    subset_update,
)
from sessions_app.services.tag_writer import in_caption, tag_counts_add, versions_bump
from sessions_app.services.tagging import current_entries, lock_entry, rewrite_tag_list
from sessions_app.services.written_caption import caption_write
from sessions_app.sql import image_ids_of
from tagger_project.db import chunked
from tagger_project.errors import Conflict, NotFound
from tags.models import Tag
from tags.selectors import resolve_tag_map
from tags.services import tags_get_or_create


@dataclass
class Operation:
    """One entry of an undo or redo stack: the seqs of its events, in the order logged.

    Most operations are one event; a group (`group` in the payloads: a job's
    chunks, or the reversals of a group) is every event of it, taken back as one.
    """

    group: str | None
    seqs: list[int]


def undo_stacks(session: TaggingSession, actor) -> tuple[list[Operation], list[Operation]]:
    """The actor's undo and redo stacks in the session, most recent last."""
    events = (
        SessionEvent.objects.filter(session=session, actor=actor, inverse__isnull=False)
        .order_by("seq")
        .values_list(
            "seq", "payload__undo_of", "payload__redo_of", "payload__in_session", "payload__group"
        )
    )
    undo: list[Operation] = []
    redo: list[Operation] = []
    for seq, undo_of, redo_of, in_session, group in events:
        if in_session != session.pk:
            # A plain operation, or an undo done in another session holding the
            # same image: here it is a new change like any other.
            undo_of = redo_of = None
        if undo_of is not None:
            _move(undo, redo, seq, undo_of, group)
        elif redo_of is not None:
            _move(redo, undo, seq, redo_of, group)
        else:
            redo.clear()
            # A group's later event joins it (and brings it to the top).
            joined = next((op for op in undo if group and op.group == group), None)
            if joined is not None:
                undo.remove(joined)
                joined.seqs.append(seq)
            undo.append(joined or Operation(group, [seq]))
    return undo, redo


def _move(
    source: list[Operation], target: list[Operation], seq: int, reversed_seq: int, group
) -> None:
    """Replay a reversal: its operation leaves `source`, and `target` gains it."""
    if source and reversed_seq in source[-1].seqs:
        source.pop()
    elif group and target and target[-1].group == group:
        # One more event of a group reversed in the same go.
        target[-1].seqs.append(seq)
        return
    target.append(Operation(group, [seq]))


@transaction.atomic
def operation_undo(session: TaggingSession, *, actor) -> Outcome[SessionEvent]:
    """Reverse the actor's latest operation in the session that is not undone yet.

    A group is reversed whole (newest event first) or, on a conflict, not at all.
    """
    undo, _ = undo_stacks(session, actor)
    if not undo:
        raise Conflict("nothing to undo")
    return _reverse_operation(session, actor=actor, operation=undo[-1], key="undo_of")


@transaction.atomic
def operation_redo(session: TaggingSession, *, actor) -> Outcome[SessionEvent]:
    """Re-apply the operation the actor undid most recently."""
    _, redo = undo_stacks(session, actor)
    if not redo:
        raise Conflict("nothing to redo")
    return _reverse_operation(session, actor=actor, operation=redo[-1], key="redo_of")


def _reverse_operation(
    session: TaggingSession, *, actor, operation: Operation, key: str
) -> Outcome[SessionEvent]:
    """Reverse each event of the operation, newest first; the value is the last event logged."""
    parts: list[Outcome] = []
    for seq in reversed(operation.seqs):
        mark: dict[str, Any] = {key: seq, "in_session": session.pk}
        if operation.group:
            mark["group"] = operation.group
        parts.append(_reverse(session, actor=actor, seq=seq, mark=mark))
    reversed_all = gathered(None, parts)
    if reversed_all.events:
        return reversed_all.then(reversed_all.events[-1])
    # A reversal that found nothing to write logged nothing: answer with the
    # session's newest event, as before (without the inverse: it can be megabytes).
    latest = SessionEvent.objects.filter(session=session).defer("inverse").order_by("-seq").first()
    assert latest is not None
    return reversed_all.then(latest)


def _reverse(session: TaggingSession, *, actor, seq: int, mark: dict[str, Any]) -> Outcome:
    event = SessionEvent.objects.get(session=session, seq=seq)
    inverse: dict[str, Any] = event.inverse or {}
    apply = _APPLIERS.get(inverse.get("op", ""))
    if apply is None:
        raise Conflict(f"event #{seq} ({event.kind}) cannot be undone")
    return apply(session, actor, inverse, mark, own_reversals(session, actor, after_seq=seq))


# (counter, session image id, version) left by one's own undo or redo → the
# equal older version. Two counters: a session image's tag `version` and its
# `caption_version` (the written caption), each walked on its own.
Settled = dict[tuple[str, int, int], int]
VersionCounter = tuple[str, int]  # ("tags" | "caption", session image id)


def own_reversals(session: TaggingSession, actor, *, after_seq: int) -> Settled:
    """(counter, image, version) left by the actor's undos and redos after `after_seq` → older
    version.

    Every change moves a counter by one, so an undo or redo X of an operation
    T leaves the image as it stood at T's recorded version minus one. Walking
    back through these from the current version reaches the version an older
    operation recorded only if nobody else changed the image in between.
    """
    reversals = list(
        SessionEvent.objects.filter(
            session=session,
            actor=actor,
            seq__gt=after_seq,
            inverse__isnull=False,
            payload__in_session=session.pk,
        ).values_list("payload__undo_of", "payload__redo_of", *_VERSION_KEYS)
    )
    targets = {undo_of or redo_of for undo_of, redo_of, *_ in reversals} - {None}
    target_keys = {
        seq: keys
        for seq, *keys in SessionEvent.objects.filter(session=session, seq__in=targets).values_list(
            "seq", *_VERSION_KEYS
        )
    }
    # One-image inverses name the image; batches name session images: speak of the latter.
    image_ids = {keys[0] for _, _, *keys in reversals} | {keys[0] for keys in target_keys.values()}
    entry_of = _entries_of(session, image_ids - {None})
    target_versions = {seq: _versions_of(keys, entry_of) for seq, keys in target_keys.items()}
    settled: Settled = {}
    for undo_of, redo_of, *keys in reversals:
        before = target_versions.get(undo_of or redo_of, {})
        for counter, version in _versions_of(keys, entry_of).items():
            if counter in before:
                settled[(*counter, version)] = before[counter] - 1
    return settled


_VERSION_KEYS = (
    "inverse__image_id",
    "inverse__version",
    "inverse__versions",
    "inverse__caption_version",
)


def _entries_of(session: TaggingSession, image_ids) -> dict[int, int]:
    entry_of: dict[int, int] = {}
    for chunk in chunked(sorted(int(image_id) for image_id in image_ids)):
        entry_of.update(
            SessionImage.objects.filter(session=session, image_id__in=chunk).values_list(
                "image_id", "pk"
            )
        )
    return entry_of


def _versions_of(keys, entry_of: dict[int, int]) -> dict[VersionCounter, int]:
    """The counters an inverse recorded: one image's tags or caption, or a batch's pairs."""
    image_id, version, versions, caption_version = keys
    if versions:
        return {("tags", int(entry)): int(v) for entry, v in versions}
    entry = entry_of.get(int(image_id)) if image_id is not None else None
    if entry is None:
        return {}
    if caption_version is not None:
        return {("caption", entry): int(caption_version)}
    if version is not None:
        return {("tags", entry): int(version)}
    return {}


def _unchanged_since(
    counter: VersionCounter, current: int | None, recorded: int, settled: Settled
) -> bool:
    """Whether the counter still stands as `recorded` left it, one's own reversals aside."""
    seen = set()
    while current is not None and current != recorded and current not in seen:
        seen.add(current)
        current = settled.get((*counter, current))
    return current == recorded


def _restore_tags(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    image = lock_entry(session, inverse["image_id"])
    if not _unchanged_since(("tags", image.pk), image.version, inverse["version"], settled):
        raise Conflict(
            f"image {image.image_id} was changed by someone else since; undo refused",
            details=[{"image_id": image.image_id}],
        )
    names = [name for name, _, _ in inverse["entries"]]
    canonical = resolve_tag_map(names)
    tags = tags_get_or_create(list(dict.fromkeys(canonical.values())))
    after = list(
        {
            tags[canonical[name]].pk: (tags[canonical[name]].pk, source, confidence)
            for name, source, confidence in inverse["entries"]
        }.values()
    )
    before = current_entries(image.pk)
    return rewrite_tag_list(image, actor=actor, before=before, after=after, annotate=mark)


def _restore_status(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    entry = SessionImage.objects.select_for_update().get(
        session=session, image_id=inverse["image_id"]
    )
    if entry.status != inverse["expected"]:
        raise Conflict(
            f"image {entry.image_id}'s status was changed by someone else since; undo refused"
        )
    return session_image_set_status(
        session,
        actor=actor,
        image_id=inverse["image_id"],
        status=inverse["status"],
        annotate=mark,
    )


def _restore_rows(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    """Reverse a batch: delete the rows it added, re-insert the rows it removed.

    The inverse names session images (their ids), as the batch wrote them.
    """
    image_ids = _lock_unchanged(session, inverse["versions"], settled)
    canonical = resolve_tag_map(
        [row[1] for row in inverse["delete"]] + [row[1] for row in inverse["insert"]]
    )
    tags = tags_get_or_create(list(dict.fromkeys(canonical.values())))
    tag_of = {name: tags[canonical[name]] for name in canonical}

    deleted = _delete_rows(inverse["delete"], tag_of)
    inserted = [
        SessionImageTag(
            entry_id=image_id,
            tag=tag_of[name],
            position=position,
            source=source,
            confidence=confidence,
            added_by=actor,
        )
        for image_id, name, position, source, confidence in inverse["insert"]
    ]
    SessionImageTag.objects.bulk_create(inserted, batch_size=500)
    tag_counts_add(Counter(row.tag_id for row in inserted if in_caption(row.source)))

    new_versions = versions_bump(image_ids)
    event = append_event(
        session.pk,
        kind=Kind.BATCH_APPLIED,
        payload={"image_ids": sorted(image_ids_of(image_ids).values()), **mark},
        actor=actor,
        inverse={
            "op": "rows",
            "delete": [[row.entry_id, row.tag.name] for row in inserted],
            "insert": deleted,
            "versions": new_versions,
        },
    )
    return Outcome(None, (event,))


def _delete_rows(rows: Sequence[list], tag_of: dict[str, Tag]) -> list[list]:
    """Delete (image_id, tag name) rows; return them in full for the redo."""
    by_tag: dict[Tag, list[int]] = {}
    for image_id, name in rows:
        by_tag.setdefault(tag_of[name], []).append(image_id)
    deleted: list[list] = []
    for tag, image_ids in by_tag.items():
        for chunk in chunked(image_ids):
            doomed = SessionImageTag.objects.filter(tag=tag, entry_id__in=chunk)
            found = list(doomed.values_list("entry_id", "position", "source", "confidence"))
            deleted += [[image_id, tag.name, *rest] for image_id, *rest in found]
            doomed.delete()
            tag_counts_add({tag.pk: -sum(in_caption(row[2]) for row in found)})
    return deleted


def _lock_unchanged(
    session: TaggingSession, recorded: list[list[int]], settled: Settled
) -> list[int]:
    """Lock the session images an inverse touches; refuse if any moved past its version."""
    versions = dict(map(tuple, recorded))
    image_ids = sorted(versions)
    current = _lock_versions(session, image_ids)
    moved_on = [
        image_id
        for image_id in image_ids
        if not _unchanged_since(
            ("tags", image_id), current.get(image_id), versions[image_id], settled
        )
    ]
    if moved_on:
        raise Conflict(
            f"{len(moved_on)} of the images were changed by someone else since; undo refused",
            details=[{"image_ids": moved_on[:50]}],
        )
    return image_ids


def _lock_versions(session: TaggingSession, entry_ids: Sequence[int]) -> dict[int, int]:
    # Only this session's images: an inverse never reaches past its own session.
    versions: dict[int, int] = {}
    for chunk in chunked(entry_ids):
        versions.update(
            SessionImage.objects.select_for_update()
            .filter(session=session, pk__in=chunk)
            .values_list("pk", "version")
        )
    return versions


def _restore_lists(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    """Put back each image's whole previous list (and the session's rules, when recorded)."""
    image_ids = _lock_unchanged(session, inverse["versions"], settled)
    canonical = resolve_tag_map(inverse["tags"])
    tags = tags_get_or_create(list(dict.fromkeys(canonical.values())))
    with gc_paused():
        current = image_rows(image_ids)
        try:
            tag_ids = [tags[canonical[name]].pk for name in inverse["tags"]]
            targets = lists_targets(inverse, current, tag_ids)
        except KeyError:
            raise Conflict("the images no longer hold what it left; undo refused") from None
        before = lists_write(targets, current, actor=actor)
    previous_rules = None
    if "rules" in inverse:
        previous_rules = session_rules(session.pk)
        rules_save(session, TagRules(*(tuple(inverse["rules"][key]) for key in RULE_KEYS)))
    new_versions = versions_bump(image_ids)
    payload: dict[str, Any] = {"image_ids": sorted(image_ids_of(image_ids).values()), **mark}
    if previous_rules is not None:
        payload["rules"] = inverse["rules"]
    event = append_event(
        session.pk,
        kind=Kind.RULES_APPLIED if previous_rules is not None else Kind.BATCH_APPLIED,
        payload=payload,
        actor=actor,
        inverse=lists_inverse(before, after_of(targets), new_versions, rules=previous_rules),
    )
    return Outcome(None, (event,))


def _restore_caption(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    entry = lock_entry(session, inverse["image_id"])
    recorded = inverse["caption_version"]
    if not _unchanged_since(("caption", entry.pk), entry.caption_version, recorded, settled):
        raise Conflict(
            f"image {entry.image_id}'s caption was changed by someone else since; undo refused",
            details=[{"image_id": entry.image_id}],
        )
    return caption_write(entry, actor=actor, text=inverse["caption"], annotate=mark)


def _subset_or_conflict(session: TaggingSession, subset_id: int):
    try:
        return lock_subset(session, subset_id)
    except NotFound:
        raise Conflict("the subset was deleted since; undo refused") from None


def _restore_subset_fields(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    subset = _subset_or_conflict(session, inverse["subset_id"])
    if subset_fields(subset) != inverse["expected"]:
        raise Conflict(f"subset {subset.folder} was changed by someone else since; undo refused")
    return subset_update(session, subset.pk, actor=actor, annotate=mark, **inverse["fields"])


def _drop_subset(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    subset = _subset_or_conflict(session, inverse["subset_id"])
    expected = dict(inverse["expected"])
    image_ids = expected.pop("image_ids", [])
    if subset_fields(subset) != expected or subset_images(subset) != sorted(image_ids):
        raise Conflict(f"subset {subset.folder} was changed by someone else since; undo refused")
    return subset_delete(session, subset.pk, actor=actor, annotate=mark)


def _recreate_subset(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    current = current_subsets(session, inverse["image_ids"])
    if any(subset_id is not None for subset_id in current.values()):
        raise Conflict("some of its images were put in another subset since; undo refused")
    if SessionSubset.objects.filter(pk=inverse["subset_id"]).exists():
        raise Conflict("the subset exists again; undo refused")
    return subset_create(
        session,
        actor=actor,
        image_ids=list(current),
        subset_id=inverse["subset_id"],
        annotate=mark,
        **inverse["fields"],
    )


def _restore_subset_images(
    session: TaggingSession, actor, inverse: dict[str, Any], mark, settled: Settled
) -> Outcome:
    current = current_subsets(session, [i for _, ids in inverse["expected"] for i in ids])
    for subset_id, image_ids in inverse["expected"]:
        if any(image_id in current and current[image_id] != subset_id for image_id in image_ids):
            raise Conflict("some of the images were moved by someone else since; undo refused")
    for subset_id, _ in inverse["moves"]:
        if subset_id is not None:
            _subset_or_conflict(session, subset_id)
    moves = [[subset_id, [i for i in ids if i in current]] for subset_id, ids in inverse["moves"]]
    return subset_moves_write(session, actor=actor, moves=moves, annotate=mark)


RULE_KEYS = ("blacklist", "pinned", "category_order")

_APPLIERS = {
    "restore_tags": _restore_tags,
    "set_status": _restore_status,
    "rows": _restore_rows,
    "lists": _restore_lists,
    "restore_caption": _restore_caption,
    "subset_fields": _restore_subset_fields,
    "subset_drop": _drop_subset,
    "subset_recreate": _recreate_subset,
    "subset_images": _restore_subset_images,
}
