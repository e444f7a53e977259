"""Auto-tagging as a job: predictions applied to a selection in the mode asked, undone at once."""

import threading

import pytest

from datasets.exporting.rows import export_rows
from jobs.autotag import autotag_run
from jobs.models import Job, JobState
from jobs.services import autotag_enqueue, job_cancel, job_claim
from jobs.worker import Worker
from sessions_app import services as session_services
from sessions_app.event_kinds import Kind
from sessions_app.models import SessionEvent, SessionImageTag
from sessions_app.rules import TagRules
from sessions_app.services.autotag import autotag_options
from sessions_app.services.rules import rules_apply
from sessions_app.services.undo import operation_redo, operation_undo
from taggers.selection import select_tags
from taggers.selectors import tagger_named
from taggers.services import predictions_for, stored_scores
from tags.models import TagSource
from tests.jobs.conftest import MODEL

pytestmark = pytest.mark.django_db(transaction=True)


def run_job(session, actor, image_ids, **options) -> Job:
    job = autotag_enqueue(
        session,
        actor=actor,
        image_ids=image_ids,
        model=options.pop("model", MODEL),
        options=autotag_options(**options),
    ).value
    assert Worker(worker_id="test").run_once(job.pk)
    job.refresh_from_db()
    return job


def rows_of(session, image) -> list[tuple[str, str, float | None]]:
    return list(
        SessionImageTag.objects.filter(entry__session=session, entry__image=image)
        .order_by("position", "id")
        .values_list("tag__name", "source", "confidence")
    )


def expected(image, **selection) -> list[tuple[str, float]]:
    tagger = tagger_named(MODEL)
    ((_, scores),) = stored_scores(tagger, [image.pk])
    options = autotag_options(**selection).selection
    return [(t.name, t.confidence) for t in select_tags(scores, tagger.labels, options)]


def test_job_tags_every_image_with_source_confidence_and_model(session, alice, stored):
    job = run_job(session, alice, [image.pk for image in stored], general_threshold=0.2)
    assert job.state == JobState.DONE and job.done == job.total == 6 and job.inferred == 6
    for image in stored:
        rows = rows_of(session, image)
        want = expected(image, general_threshold=0.2)
        assert [(name, round(conf, 6)) for name, _, conf in rows] == [
            (name.replace("_", " "), round(conf, 6)) for name, conf in want
        ]
        assert {source for _, source, _ in rows} <= {TagSource.AUTOTAGGER}
    event = SessionEvent.objects.get(session=session, kind=Kind.AUTOTAG_APPLIED)
    tagger = tagger_named(MODEL)
    assert event.payload["model"] == MODEL and event.payload["model_sha256"] == tagger.sha256
    assert event.payload["job_id"] == job.pk and event.actor == alice
    assert job.result["seq"] == event.seq


def test_append_keeps_what_images_had_and_replace_does_not(session, alice, stored):
    first, second = stored[0], stored[1]
    session_services.tags_add(session, first.pk, actor=alice, names=["hand drawn"])
    session_services.tags_add(session, second.pk, actor=alice, names=["hand drawn"])
    run_job(session, alice, [first.pk], general_threshold=0.2, mode="append")
    assert rows_of(session, first)[0][:2] == ("hand drawn", TagSource.MANUAL)
    assert len(rows_of(session, first)) > 1
    run_job(session, alice, [second.pk], general_threshold=0.2, mode="replace")
    assert "hand drawn" not in [name for name, _, _ in rows_of(session, second)]


def test_untagged_mode_leaves_tagged_images_alone(session, alice, stored):
    session_services.tags_add(session, stored[0].pk, actor=alice, names=["hand drawn"])
    job = run_job(session, alice, [image.pk for image in stored], mode="untagged")
    assert rows_of(session, stored[0]) == [("hand drawn", TagSource.MANUAL, None)]
    assert job.result["changed"] == 5


def test_suggestions_stay_out_of_exports_until_accepted(session, alice, stored):
    image = stored[1]
    run_job(session, alice, [image.pk], general_threshold=0.6, suggest_threshold=0.3)
    sources = {source for _, source, _ in rows_of(session, image)}
    assert TagSource.SUGGESTION in sources
    suggested = {n for n, s, _ in rows_of(session, image) if s == TagSource.SUGGESTION}
    (row,) = [r for r in export_rows(session) if r.image.pk == image.pk]
    assert suggested.isdisjoint(tag.name for tag in row.tags)
    session_services.batch_apply(
        session, actor=alice, image_ids=[image.pk], accept_source=TagSource.SUGGESTION
    )
    (row,) = [r for r in export_rows(session) if r.image.pk == image.pk]
    assert suggested <= {tag.name for tag in row.tags}


def test_one_undo_takes_the_whole_job_back(session, alice, stored):
    session_services.tags_add(session, stored[0].pk, actor=alice, names=["hand drawn"])
    before = {image.pk: rows_of(session, image) for image in stored}
    run_job(session, alice, [image.pk for image in stored], general_threshold=0.2)
    assert all(rows_of(session, image) != before[image.pk] for image in stored)
    operation_undo(session, actor=alice)
    assert {image.pk: rows_of(session, image) for image in stored} == before


def test_tags_arrive_chunk_by_chunk_and_one_undo_takes_every_chunk_back(
    session, alice, stored, settings
):
    settings.TAGGER_JOB_CHUNK = 2
    before = {image.pk: rows_of(session, image) for image in stored}
    autotag_enqueue(
        session,
        actor=alice,
        image_ids=[i.pk for i in stored],
        model=MODEL,
        options=autotag_options(general_threshold=0.2),
    )
    claimed = job_claim("test").value
    tagged_at: list[int] = []

    def between_chunks(row):
        tagged_at.append(SessionImageTag.objects.values("entry").distinct().count())
        if row.done == 2:
            # Alice's own edit between two chunks: on her stack under the job.
            session_services.tags_add(session, stored[5].pk, actor=alice, names=["hand drawn"])

    final = autotag_run(
        claimed, worker_id="test", stop=threading.Event(), on_progress=between_chunks
    )
    assert final.state == JobState.DONE and tagged_at == [2, 5, 6]
    chunks = SessionEvent.objects.filter(kind=Kind.AUTOTAG_APPLIED).order_by("seq")
    assert [len(e.payload["image_ids"]) for e in chunks] == [2, 2, 2]
    assert final.result["changed"] == 6 and final.result["seq"] == chunks.last().seq
    after = {image.pk: rows_of(session, image) for image in stored}
    # One undo: the whole job (its last chunk came after the manual edit).
    operation_undo(session, actor=alice)
    rows = {image.pk: rows_of(session, image) for image in stored}
    assert {k: v for k, v in rows.items() if k != stored[5].pk} == {
        k: v for k, v in before.items() if k != stored[5].pk
    }
    assert rows[stored[5].pk] == [("hand drawn", TagSource.MANUAL, None)]
    operation_redo(session, actor=alice)
    assert {image.pk: rows_of(session, image) for image in stored} == after
    operation_undo(session, actor=alice)
    operation_undo(session, actor=alice)  # then the manual edit
    assert {image.pk: rows_of(session, image) for image in stored} == before


def test_predictions_are_reused_by_a_second_job(session, alice, stored):
    ids = [image.pk for image in stored]
    run_job(session, alice, ids)
    again = run_job(session, alice, ids, general_threshold=0.1, mode="replace")
    assert again.inferred == 0 and again.state == JobState.DONE


def test_blacklisted_tags_are_not_added(session, alice, stored):
    image = stored[0]
    predictions_for([image], tagger_named(MODEL))
    banned = expected(image, general_threshold=0.2)[0][0].replace("_", " ")
    rules_apply(session, actor=alice, rules=TagRules(blacklist=(banned,)))
    run_job(session, alice, [image.pk], general_threshold=0.2)
    assert banned not in [name for name, _, _ in rows_of(session, image)]


def test_a_queued_job_cancelled_never_runs(session, alice, stored):
    job = autotag_enqueue(
        session, actor=alice, image_ids=[stored[0].pk], model=MODEL, options=autotag_options()
    ).value
    job_cancel(job, actor=alice)
    assert not Worker(worker_id="test").run_once(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and not SessionImageTag.objects.exists()


def test_a_running_job_cancelled_stops_after_its_chunk(session, alice, stored, settings):
    settings.TAGGER_JOB_CHUNK = 2
    autotag_enqueue(
        session,
        actor=alice,
        image_ids=[i.pk for i in stored],
        model=MODEL,
        options=autotag_options(),
    )
    claimed = job_claim("test").value

    def cancel_after_first_chunk(row):
        if row.done == 2:
            job_cancel(row, actor=alice)

    final = autotag_run(
        claimed, worker_id="test", stop=threading.Event(), on_progress=cancel_after_first_chunk
    )
    assert final.state == JobState.CANCELLED and final.done == 2
    # The first chunk's tags stay (one undo takes them back); no later chunk is applied.
    tagged = set(SessionImageTag.objects.values_list("entry__image_id", flat=True))
    assert tagged == {stored[0].pk, stored[1].pk}
    assert SessionEvent.objects.filter(kind=Kind.AUTOTAG_APPLIED).count() == 1
    operation_undo(session, actor=alice)
    assert not SessionImageTag.objects.exists()
