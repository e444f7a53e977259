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

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImage, SessionImageTag, SessionRules, TaggingSession
from sessions_app.outcome import Outcome
from sessions_app.rules import TagRules, session_rules
from sessions_app.services.lists import (
    Row,
    after_of,
    gc_paused,
    lists_inverse,
    lists_write,
    read_rows,
    rule_plans,
)
from sessions_app.services.tag_writer import versions_bump
from sessions_app.sql import image_ids_of
from tags.models import Tag

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

    @property
    def changed(self) -> int:
        return len(self.changed_image_ids)


def rules_preview(session: TaggingSession, rules: TagRules) -> RulesDiff:
    """Dry run: which images of the session `rules` would change, with a before/after sample."""
    with gc_paused():
        current, info = _session_rows(session)
        plans = rule_plans(current, info, rules)
        return _diff(session, rules, current, plans, info)


@transaction.atomic
def rules_apply(session: TaggingSession, *, actor, rules: TagRules) -> Outcome[RulesResult]:
    """Save the session's rules and rewrite its images to obey them: one undoable event."""
    # Lock the session's images first, so no edit slips between read and write.
    _lock_session_images(session)
    previous = session_rules(session.pk)
    with gc_paused():
        current, info = _session_rows(session)
        plans = rule_plans(current, info, rules)
        rules_save(session, rules)
        before = lists_write(plans, current, actor=actor)
        changed = sorted(plans)
        inverse_rows = (before, after_of(plans))
    versions = versions_bump(changed)
    image_of = image_ids_of(changed)
    image_ids = sorted(image_of.values())
    event = append_event(
        session.pk,
        kind=Kind.RULES_APPLIED,
        payload={"rules": rules.as_dict(), "previous": previous.as_dict(), "image_ids": image_ids},
        actor=actor,
        inverse=lists_inverse(*inverse_rows, versions, rules=previous),
    )
    return Outcome(RulesResult(rules=rules, changed_image_ids=image_ids), (event,))


def rules_save(session: TaggingSession, rules: TagRules) -> None:
    """Store the rules without touching any image (apply, undo and redo call this)."""
    SessionRules.objects.update_or_create(session=session, defaults=rules.as_dict())


def _lock_session_images(session: TaggingSession) -> None:
    """Lock the session's images until the transaction ends."""
    list(SessionImage.objects.select_for_update().filter(session=session).values_list("pk"))


def _session_rows(session: TaggingSession):
    """The session's tag rows per session image in caption order, and {tag id: (name, category)}."""
    current: dict[int, list[Row]] = defaultdict(list)
    held = f"SELECT id FROM {SessionImage._meta.db_table} WHERE session_id = %s"
    read_rows(current, f"WHERE it.entry_id IN ({held})", [session.pk])
    used = SessionImageTag.objects.filter(entry__session=session).values("tag_id")
    info = {
        pk: (name, category)
        for pk, name, category in Tag.objects.filter(pk__in=used).values_list(
            "pk", "name", "category"
        )
    }
    return current, info


def _diff(session, rules, current, plans, info) -> RulesDiff:
    image_of = image_ids_of(list(plans))
    changed = sorted(plans, key=image_of.__getitem__)
    sampled = changed[:SAMPLE_SIZE]
    names = dict(
        SessionImage.objects.filter(pk__in=sampled).values_list("image_id", "original_name")
    )
    sample = [
        {
            "image_id": image_of[entry_id],
            "original_name": names.get(image_of[entry_id], ""),
            "before": [info[row.tag_id][0] for row in current[entry_id]],
            "after": [info[target[0]][0] for target in plans[entry_id]],
        }
        for entry_id in sampled
    ]
    total = SessionImage.objects.filter(session=session).count()
    image_ids = [image_of[entry_id] for entry_id in changed]
    return RulesDiff(rules=rules, total=total, changed_image_ids=image_ids, sample=sample)
