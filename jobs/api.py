"""HTTP doors onto a session's background jobs: start, watch, cancel.

Viewers may watch; editors start and cancel. A job of another session is
not found, whatever its id.
"""

from django.http import HttpRequest
from ninja import Router, Status

from jobs.schemas import AutotagIn, JobList, JobOut
from jobs.selectors import job_in_session, job_shape, jobs_for_session
from jobs.services import autotag_enqueue, job_cancel
from sessions_app.models import Role
from sessions_app.permissions import session_for
from sessions_app.selectors import selection_image_ids
from sessions_app.services.autotag import autotag_options
from tagger_project.schemas import Id, Limit, answers

router = Router(tags=["jobs"])


@router.get("/{session_id}/jobs", response=answers(JobList))
def job_list(request: HttpRequest, session_id: Id, active: bool = False, limit: Limit = 20):
    """The session's jobs, newest first (`active`: only queued and running ones)."""
    session = session_for(request.auth, session_id)
    return {"items": jobs_for_session(session, active=active, limit=limit)}


@router.post("/{session_id}/jobs/autotag", response=answers(JobOut, 201))
def autotag_start(request: HttpRequest, session_id: Id, payload: AutotagIn):
    """Queue auto-tagging of a selection with a tagger model (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    fields = payload.dict(exclude={"selection", "model"})
    options = autotag_options(**fields)
    selection = payload.selection
    image_ids = selection_image_ids(session, q=selection.q, image_ids=selection.image_ids)
    job = autotag_enqueue(
        session, actor=request.auth, image_ids=image_ids, model=payload.model, options=options
    ).value
    return Status(201, job_shape(job))


@router.get("/{session_id}/jobs/{job_id}", response=answers(JobOut))
def job_detail(request: HttpRequest, session_id: Id, job_id: Id):
    session = session_for(request.auth, session_id)
    return job_shape(job_in_session(session, job_id))


@router.post("/{session_id}/jobs/{job_id}/cancel", response=answers(JobOut))
def job_cancel_view(request: HttpRequest, session_id: Id, job_id: Id):
    """Cancel a queued or running job (editors); 409 once it has finished."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    job = job_cancel(job_in_session(session, job_id), actor=request.auth).value
    return job_shape(job)
