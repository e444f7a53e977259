"""Insight into a session's dataset: tag statistics, pruning candidates, weak captions.

Selectors only. Counts are GROUP BYs over the session's SessionImageTag rows (one
query each); the per-image view walks the export's rows, so the caption it
measures is exactly the kohya caption the session would export (trigger word,
rules, spelling), and its CLIP token count is what a trainer would see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from datasets.exporting.base import ExportOptions, file_caption
from datasets.exporting.rows import export_rows
from sessions_app.models import SessionImage, SessionImageTag, TaggingSession
from tags.clip_tokens import CLIP_TOKEN_LIMIT, clip_token_count
from tags.models import Tag
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_map


def _session_rows(session: TaggingSession) -> QuerySet[SessionImageTag]:
    return SessionImageTag.objects.filter(entry__session=session)


def _trigger_tag(session: TaggingSession) -> Tag | None:
    """The trigger word as a tag, when it is one."""
    if not session.trigger_word.strip():
        return None
    try:
        name = normalize_tag_name(session.trigger_word)
    except InvalidTagName:
        return None
    return Tag.objects.filter(name=resolve_tag_map([name])[name]).first()


def session_tag_stats(session: TaggingSession, *, limit: int) -> dict[str, Any]:
    """Each tag's frequency, share of images and co-occurrence with the trigger word.

    The trigger word is usually a session setting that the export writes
    first in every caption: then every tag co-occurs with it on all its
    images ("setting"). When it is also a tag on the images, co-occurrence
    counts the images that have both ("tag").
    """
    total = SessionImage.objects.filter(session=session).count()
    counts = (
        _session_rows(session)
        .values("tag_id", "tag__name", "tag__category")
        .annotate(count=Count("id"))
        .order_by("-count", "tag__name")[:limit]
    )
    trigger = _trigger_tag(session)
    mode = None
    with_trigger: dict[int, int] = {}
    if trigger is not None and _session_rows(session).filter(tag=trigger).exists():
        mode = "tag"
        both = _session_rows(session).filter(
            entry_id__in=_session_rows(session).filter(tag=trigger).values("entry_id"),
            tag_id__in=[row["tag_id"] for row in counts],
        )
        with_trigger = dict(
            both.values("tag_id").annotate(n=Count("id")).values_list("tag_id", "n")
        )
    elif session.trigger_word.strip():
        mode = "setting"
    items = [
        {
            "name": row["tag__name"],
            "category": row["tag__category"],
            "count": row["count"],
            "share": row["count"] / total if total else 0.0,
            "with_trigger": (
                None
                if mode is None
                else row["count"]
                if mode == "setting"
                else with_trigger.get(row["tag_id"], 0)
            ),
        }
        for row in counts
    ]
    return {
        "total_images": total,
        "trigger_word": session.trigger_word,
        "trigger_mode": mode,
        "items": items,
    }


def pruning_candidates(session: TaggingSession, *, min_share: float) -> dict[str, Any]:
    """Tags on at least `min_share` of the images: traits that will bleed into the trigger word."""
    total = SessionImage.objects.filter(session=session).count()
    needed = max(1, math.ceil(min_share * total - 1e-9))
    rows = (
        _session_rows(session)
        .values("tag__name", "tag__category")
        .annotate(count=Count("id"))
        .filter(count__gte=needed)
        .order_by("-count", "tag__name")
    )
    items = [
        {
            "name": row["tag__name"],
            "category": row["tag__category"],
            "count": row["count"],
            "share": row["count"] / total,
        }
        for row in rows
    ]
    return {"total_images": total, "min_share": min_share, "items": items if total else []}


@dataclass(frozen=True)
class CaptionCheck:
    """Which captions to flag: at most `max_tags` tags, or over `max_tokens` CLIP tokens."""

    max_tags: int = 3
    max_tokens: int = CLIP_TOKEN_LIMIT
    limit: int = 100


def weak_captions(session: TaggingSession, check: CaptionCheck) -> dict[str, Any]:
    """Images with too few tags (and no written caption) or a caption over the CLIP limit,
    with each one's token count."""
    options = ExportOptions(include_images=False).resolved(session)
    items: list[dict[str, Any]] = []
    too_few = too_long = total = 0
    for row in export_rows(session):
        total += 1
        names = [tag.name for tag in row.tags]
        # What the trainer reads: the written caption where there is one (as export writes it).
        tokens = clip_token_count(file_caption(names, row.caption, options).text(options))
        few = len(names) <= check.max_tags and not row.caption
        long = tokens > check.max_tokens
        too_few += few
        too_long += long
        if (few or long) and len(items) < check.limit:
            items.append(
                {
                    "image_id": row.image.pk,
                    "original_name": row.name,
                    "tag_count": len(names),
                    "tokens": tokens,
                    "too_few_tags": few,
                    "over_token_limit": long,
                }
            )
    return {
        "total_images": total,
        "too_few_tags": too_few,
        "over_token_limit": too_long,
        "max_tags": check.max_tags,
        "max_tokens": check.max_tokens,
        "items": items,
    }
