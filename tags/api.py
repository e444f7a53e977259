"""HTTP doors onto the tag vocabulary: autocomplete for everyone, curation for staff."""

from django.http import HttpRequest
from ninja import Router, Status

from tagger_project.schemas import Limit, TagName, answers, trusted
from tags import services
from tags.autocomplete import tags_complete
from tags.clip_tokens import CLIP_TOKEN_LIMIT, clip_token_count
from tags.models import TagAlias, TagImplication
from tags.normalize import normalize_tag_name
from tags.permissions import require_curator
from tags.schemas import (
    AliasIn,
    AliasList,
    AliasOut,
    Category,
    ClipTokensIn,
    ClipTokensOut,
    ImplicationIn,
    ImplicationList,
    ImplicationOut,
    Prefix,
    TagSuggestionList,
)
from tags.selectors import tag_named

router = Router(tags=["tags"])


@router.get("", response=answers(TagSuggestionList))
def tag_autocomplete(
    request: HttpRequest, prefix: Prefix = "", category: Category | None = None, limit: Limit = 10
):
    """Tags (and aliases, answered as their tag) starting with `prefix`, most used first."""
    normalized = normalize_tag_name(prefix) if prefix.strip() else ""
    items = tags_complete(prefix=normalized, category=category, limit=limit)
    # tags_complete builds TagSuggestionList's exact items; re-validating them cost more
    # than the read itself.
    return trusted({"items": items, "next_cursor": None})


@router.post("/clip-tokens", response=answers(ClipTokensOut))
def clip_token_counter(request: HttpRequest, payload: ClipTokensIn):
    """How many CLIP tokens a text takes of the 75-token window (the caption editor's count)."""
    return {"tokens": clip_token_count(payload.text), "limit": CLIP_TOKEN_LIMIT}


@router.get("/{path:name}/aliases", response=answers(AliasList))
def alias_list(request: HttpRequest, name: TagName):
    """The names that resolve to this tag (staff)."""
    require_curator(request.auth)
    tag = tag_named(name)
    names = TagAlias.objects.filter(tag=tag).order_by("name").values_list("name", flat=True)
    return {"items": [{"name": alias, "tag": tag.name} for alias in names]}


@router.post("/{path:name}/aliases", response=answers(AliasOut, 201))
def alias_create(request: HttpRequest, name: TagName, payload: AliasIn):
    """Make another name resolve to this tag (staff)."""
    require_curator(request.auth)
    alias = services.alias_create(tag_named(name), name=payload.name)
    return Status(201, {"name": alias.name, "tag": alias.tag.name})


@router.get("/{path:name}/implications", response=answers(ImplicationList))
def implication_list(request: HttpRequest, name: TagName):
    """The tags this tag implies directly (staff)."""
    require_curator(request.auth)
    tag = tag_named(name)
    implied = TagImplication.objects.filter(tag=tag).order_by("implied__name")
    names = implied.values_list("implied__name", flat=True)
    return {"items": [{"tag": tag.name, "implies": other} for other in names]}


@router.post("/{path:name}/implications", response=answers(ImplicationOut, 201))
def implication_create(request: HttpRequest, name: TagName, payload: ImplicationIn):
    """Make adding this tag also add another; cycles are refused (staff)."""
    require_curator(request.auth)
    tag, implied = tag_named(name), tag_named(payload.implies)
    services.implication_create(tag, implied=implied)
    return Status(201, {"tag": tag.name, "implies": implied.name})
