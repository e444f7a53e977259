"""HTTP door onto the tagger models: which ones this server has, for any signed-in user.

Any logged-in user, not staff only: choosing a model is part of tagging a
session, which editors do, and the answer holds only folder names, shapes
and refusal reasons (never a server path), nothing a member could misuse.
"""

from dataclasses import asdict

from django.http import HttpRequest
from ninja import Router

from tagger_project.schemas import answers
from taggers.schemas import TaggerList
from taggers.selectors import execution_providers, taggers_available

router = Router(tags=["taggers"])


@router.get("", response=answers(TaggerList))
def tagger_list(request: HttpRequest):
    """Every model folder under TAGGER_MODELS_DIR, usable or with why it is refused."""
    items = [asdict(info) for info in taggers_available()]
    return {"items": items, "providers": execution_providers()}
