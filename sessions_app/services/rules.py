"""Changing a session's tag rules: a dry-run diff, and the apply that rewrites its images.

Applying is one logged, broadcast, undoable operation: the session's images
are read once (chunk-free, one ordered query), the rules are applied in
Python, and only the rows that differ are written, set-based (a few
multi-row statements per thousand rows). The event's inverse holds the
previous tag lists of the changed images (positions, sources, confidences)
and the previous rules, so undo puts back exactly what was there.

The bulk writer that apply, undo and redo share is sessions_app.services.lists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from images.models import Image
from sessions_app.events import append_event
from sessions_app.models import SessionImage, SessionRules, TaggingSession
from sessions_app.rules import TagRules, apply_rules, session_rules
from sessions_app.services.batch import bump_versions
from sessions_app.services.lists import Row, Target, lists_inverse, lists_write
from tags.models import ImageTag, Tag

SAMPLE_SIZE = 20


@dataclass
class RulesDiff:
    """What applying rules would change: how many images, and a sample of them."""

    rules: TagRules
    total: int
    changed_image_ids: list[int]
    sample: list[dict[str, Any]]

    @property
    def changed(self) -> int:
        return len(self.changed_image_ids)


@dataclass
class RulesResult:
    rules: TagRules
    changed_image_ids: list[int]
    seq: int

    @property
    def changed(self) -> int:
        return len(self.changed_image_ids)


def rules_preview(session: TaggingSession, rules: TagRules) -> RulesDiff:
    """Dry run: which images of the session `rules` would change, with a before/after sample."""
    current, info = _session_rows(session)
    plans = _plans(current, info, rules)
    return _diff(session, rules, current, plans, info)


@transaction.atomic
def rules_apply(session: TaggingSession, *, actor, rules: TagRules) -> RulesResult:
    """Save the session's rules and rewrite its images to obey them: one undoable event."""
    # Lock the session's images first, so no edit slips between read and write.
    _lock_session_images(session)
    previous = session_rules(session.pk)
    current, info = _session_rows(session)
    plans = _plans(current, info, rules)
    _rules_save(session, rules)
    before = lists_write(plans, current, actor=actor)
    changed = sorted(plans)
    versions = bump_versions(changed)
    names = {tag_id: name for tag_id, (name, _) in info.items()}
    event = append_event(
        session.pk,
        kind="rules.applied",
        payload={"rules": rules.as_dict(), "previous": previous.as_dict(), "image_ids": changed},
        actor=actor,
        inverse=lists_inverse(before, names, versions, rules=previous),
    )
    return RulesResult(rules=rules, changed_image_ids=changed, seq=event.seq)


def rules_save(session: TaggingSession, rules: TagRules) -> None:
    """Store the rules without touching any image (undo and redo restore them this way)."""
    _rules_save(session, rules)


def _rules_save(session: TaggingSession, rules: TagRules) -> None:
    SessionRules.objects.update_or_create(session=session, defaults=rules.as_dict())


def _lock_session_images(session: TaggingSession) -> None:
    held = SessionImage.objects.filter(session=session).values("image_id")
    list(Image.objects.select_for_update().filter(pk__in=held).values_list("pk", flat=True))


def _session_rows(session: TaggingSession):
    """The session's ImageTag rows per image in caption order, and {tag id: (name, category)}."""
    held = SessionImage.objects.filter(session=session).values("image_id")
    rows = (
        ImageTag.objects.filter(image_id__in=held)
        .order_by("image_id", "position", "id")
        .values_list("image_id", "id", "tag_id", "position", "source", "confidence")
    )
    current: dict[int, list[Row]] = defaultdict(list)
    for image_id, *rest in rows.iterator(chunk_size=5000):
        current[image_id].append(Row(*rest))
    used = ImageTag.objects.filter(image_id__in=held).values("tag_id")
    info = {
        pk: (name, category)
        for pk, name, category in Tag.objects.filter(pk__in=used).values_list(
            "pk", "name", "category"
        )
    }
    return current, info


def _plans(
    current: dict[int, list[Row]], info: dict[int, tuple[str, str]], rules: TagRules
) -> dict[int, list[Target]]:
    """The new list of every image the rules change (positions renumbered from 0)."""
    plans: dict[int, list[Target]] = {}
    for image_id, rows in current.items():
        ordered = apply_rules(
            rows,
            rules,
            name=lambda row: info[row.tag_id][0],
            category=lambda row: info[row.tag_id][1],
        )
        target = [
            (row.tag_id, position, row.source, row.confidence)
            for position, row in enumerate(ordered)
        ]
        # Only a different order (or a dropped tag) is a change; gaps in positions are not.
        if [t[0] for t in target] != [row.tag_id for row in rows]:
            plans[image_id] = target
    return plans


def _diff(session, rules, current, plans, info) -> RulesDiff:
    changed = sorted(plans)
    sampled = changed[:SAMPLE_SIZE]
    names = dict(Image.objects.filter(pk__in=sampled).values_list("pk", "original_name"))
    sample = [
        {
            "image_id": image_id,
            "original_name": names.get(image_id, ""),
            "before": [info[row.tag_id][0] for row in current[image_id]],
            "after": [info[target[0]][0] for target in plans[image_id]],
        }
        for image_id in sampled
    ]
    total = SessionImage.objects.filter(session=session).count()
    return RulesDiff(rules=rules, total=total, changed_image_ids=changed, sample=sample)
