"""Every service that appends session events returns them: exactly the rows it logged.

The services are found by reading the service modules, not listed by hand:
a public function whose body appends an event (directly, or through another
such function of these modules) must return an Outcome, and must have a call
below, so a new service that forgets to hand back its events fails here.
"""

import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

import sessions_app.services
from datasets.importing_formats import open_dataset
from datasets.services import dataset_import, tags_restore
from images.services import image_files_store, image_process_bytes
from jobs.models import JobKind, JobState
from jobs.services import autotag_enqueue, job_cancel, job_claim, job_enqueue, job_finish
from sessions_app import services
from sessions_app.models import SessionEvent
from sessions_app.outcome import Outcome
from sessions_app.repeat_folders import RepeatFolder
from sessions_app.rules import TagRules
from sessions_app.services import (
    autotag,
    batch,
    curation,
    importing,
    sessions,
    subsets,
    tagging,
    undo,
    written_caption,
)
from sessions_app.services.rules import rules_apply
from taggers.selectors import tagger_named
from taggers.services import predictions_for
from tags.models import Tag, TagSource
from tests.jobs.conftest import MODEL, media, models_dir, stored  # noqa: F401 (fixtures)
from tests.support.images import make_image, png_bytes

SERVICE_MODULES = [
    importlib.import_module(f"sessions_app.services.{info.name}")
    for info in pkgutil.iter_modules(sessions_app.services.__path__)
] + [importlib.import_module(name) for name in ("jobs.services", "datasets.services")]


def _public_functions(module) -> dict[str, Callable]:
    return {
        name: function
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == module.__name__
    }


def _appending_services() -> dict[str, tuple[str, Callable]]:
    """name → (module name, function) of every public function that appends events.

    A function appends when its source (or that of a private helper of its
    module it calls) calls append_event, or calls a function that appends.
    """
    sources: dict[str, tuple[str, str, Callable | None]] = {}
    for module in SERVICE_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__:
                source = inspect.getsource(inspect.unwrap(function))
                public = function if not name.startswith("_") else None
                sources[name] = (module.__name__, source, public)
        for name, value in vars(module).items():
            # A dispatch table (undo's appliers) calls what it holds.
            if isinstance(value, dict) and any(inspect.isfunction(v) for v in value.values()):
                held = " ".join(f"{v.__name__}()" for v in value.values() if inspect.isfunction(v))
                sources[name] = (module.__name__, held, None)
    appending = {name for name, (_, source, _) in sources.items() if "append_event(" in source}
    grew = True
    while grew:
        grew = False
        for name, (_, source, _) in sources.items():
            calls = set(re.findall(r"\b(\w+)\(", source)) | set(
                re.findall(r"\b(_[A-Z]\w*)\b", source)
            )
            if name not in appending and calls & appending:
                appending.add(name)
                grew = True
    return {
        name: (module_name, function)
        for name, (module_name, _, function) in sources.items()
        if name in appending and function is not None
    }


APPENDING = _appending_services()


def _returns_outcome(function: Callable) -> bool:
    returned = inspect.signature(inspect.unwrap(function)).return_annotation
    if isinstance(returned, str):  # a module with `from __future__ import annotations`
        return re.match(r"Outcome\b", returned) is not None
    return typing.get_origin(returned) is Outcome or returned is Outcome


OUTCOME_SERVICES = sorted(
    name for name, (_, function) in APPENDING.items() if _returns_outcome(function)
)


# --- a call of each, after whatever set-up it needs ------------------------------------------


def _tagged(ctx) -> None:
    services.tags_add(ctx.session, ctx.images[0].pk, actor=ctx.bob, names=["cat", "tree"])


def _with_subset(ctx):
    return subsets.subset_create(ctx.session, actor=ctx.alice, name="ohwx", num_repeats=10).value


def _state(ctx, image=0):
    return services.image_tag_state(ctx.session, ctx.images[image].pk)


def _autotag(ctx):
    images = ctx.request.getfixturevalue("stored")
    tagger = tagger_named(MODEL)
    predictions_for(images, tagger)
    return lambda: autotag.autotag_apply(
        ctx.session,
        actor=ctx.alice,
        image_ids=[image.pk for image in images],
        tagger=tagger,
        options=autotag.autotag_options(general_threshold=0.2),
    )


def _rewrite(ctx):
    entry = tagging.lock_entry(ctx.session, ctx.images[0].pk)
    tag = Tag.objects.create(name="rewritten")
    return tagging.rewrite_tag_list(
        entry, actor=ctx.bob, before=[], after=[(tag.pk, TagSource.MANUAL, None)]
    )


def _undone(ctx) -> None:
    _tagged(ctx)
    undo.operation_undo(ctx.session, actor=ctx.bob)


def _processed(color):
    processed = image_process_bytes(png_bytes(color=color))
    image_files_store(processed)
    return processed


def _known(ctx, color):
    """Content the library holds (from another session), with caption tags and a caption."""
    processed = _processed(color)
    other = sessions.session_create(owner=ctx.alice, name=f"Other {color}").value
    importing.session_import_processed(
        other, actor=ctx.alice, processed=processed, original_name="elsewhere.png"
    )
    return dataclasses.replace(processed, caption_tokens=["cat"], written_caption="A cat.")


def _dataset(ctx):
    folder = ctx.request.getfixturevalue("tmp_path") / "10_ohwx"
    folder.mkdir()
    (folder / "new.png").write_bytes(png_bytes(color=(1, 2, 3)))
    (folder / "new.txt").write_text("cat, tree", encoding="utf-8")
    (folder / "fox.png").write_bytes(png_bytes(color=(9, 8, 7)))
    (folder / "fox.txt").write_text("A fox in the snow.", encoding="utf-8")
    return open_dataset(folder.parent, "kohya")


def _queued(ctx):
    return job_enqueue(ctx.session, actor=ctx.alice, kind=JobKind.AUTOTAG, params={}, total=1).value


def _claimed(ctx):
    job = _queued(ctx)
    job_claim("worker-a", job_id=job.pk)
    return job


def _finished(job):
    with transaction.atomic():  # as a job's last write calls it
        return job_finish(job, worker_id="worker-a", state=JobState.DONE)


def _dumped(ctx):
    subset = _with_subset(ctx)
    subsets.subset_assign(
        ctx.session, actor=ctx.alice, subset_id=subset.pk, image_ids=[ctx.images[1].pk]
    )
    dumped = subsets.subsets_dump(ctx.session)
    subsets.subset_delete(ctx.session, subset.pk, actor=ctx.alice)
    return dumped


# name → function(ctx) that sets up and returns a zero-argument call of the service.
CALLS: dict[str, Callable[[Any], Callable[[], Outcome]]] = {
    "tags_add": lambda c: (
        lambda: services.tags_add(c.session, c.images[0].pk, actor=c.bob, names=["cat"])
    ),
    "tags_remove": lambda c: (
        _tagged(c),
        lambda: services.tags_remove(c.session, c.images[0].pk, actor=c.bob, names=["cat"]),
    )[1],
    "tags_set": lambda c: (
        lambda: services.tags_set(
            c.session, c.images[0].pk, actor=c.bob, names=["a", "b"], version=_state(c).version
        )
    ),
    "rewrite_tag_list": lambda c: lambda: _rewrite(c),
    "caption_set": lambda c: (
        lambda: written_caption.caption_set(
            c.session, c.images[0].pk, actor=c.bob, text="A cat.", version=0
        )
    ),
    "caption_replace": lambda c: (
        lambda: written_caption.caption_replace(
            c.session, c.images[0].pk, actor=c.bob, text="A cat."
        )
    ),
    "caption_write": lambda c: (
        lambda: written_caption.caption_write(
            tagging.lock_entry(c.session, c.images[0].pk), actor=c.bob, text="A cat."
        )
    ),
    "batch_apply": lambda c: (
        lambda: batch.batch_apply(
            c.session, actor=c.bob, image_ids=[image.pk for image in c.images], add=["x"]
        )
    ),
    "operation_undo": lambda c: (
        _tagged(c),
        lambda: undo.operation_undo(c.session, actor=c.bob),
    )[1],
    "operation_redo": lambda c: (
        _undone(c),
        lambda: undo.operation_redo(c.session, actor=c.bob),
    )[1],
    "rules_apply": lambda c: (
        _tagged(c),
        lambda: rules_apply(c.session, actor=c.bob, rules=TagRules(blacklist=("tree",))),
    )[1],
    "session_image_set_status": lambda c: (
        lambda: services.session_image_set_status(
            c.session, actor=c.bob, image_id=c.images[0].pk, status="tagged"
        )
    ),
    "subset_create": lambda c: (
        lambda: subsets.subset_create(
            c.session, actor=c.alice, name="ohwx", image_ids=[c.images[0].pk]
        )
    ),
    "subset_update": lambda c: (
        subset := _with_subset(c),
        lambda: subsets.subset_update(c.session, subset.pk, actor=c.alice, num_repeats=3),
    )[1],
    "subset_delete": lambda c: (
        subset := _with_subset(c),
        lambda: subsets.subset_delete(c.session, subset.pk, actor=c.alice),
    )[1],
    "subset_assign": lambda c: (
        subset := _with_subset(c),
        lambda: subsets.subset_assign(
            c.session, actor=c.alice, subset_id=subset.pk, image_ids=[c.images[0].pk]
        ),
    )[1],
    "subset_moves_write": lambda c: (
        subset := _with_subset(c),
        lambda: subsets.subset_moves_write(
            c.session, actor=c.alice, moves=[[subset.pk, [c.images[0].pk, c.images[1].pk]]]
        ),
    )[1],
    "subsets_place": lambda c: (
        lambda: subsets.subsets_place(
            c.session, actor=c.alice, placements={RepeatFolder(5, "sks"): [c.images[2].pk]}
        )
    ),
    "subsets_load": lambda c: (
        dumped := _dumped(c),
        lambda: subsets.subsets_load(c.session, actor=c.alice, subsets=dumped),
    )[1],
    "autotag_apply": _autotag,
    "session_create": lambda c: lambda: sessions.session_create(owner=c.bob, name="Dogs"),
    "session_update": lambda c: (
        lambda: sessions.session_update(c.session, actor=c.alice, description="Tabbies")
    ),
    "session_member_add": lambda c: (
        lambda: sessions.session_member_add(c.session, actor=c.alice, user=c.bob, role="viewer")
    ),
    "session_member_remove": lambda c: (
        lambda: sessions.session_member_remove(c.session, actor=c.alice, user=c.bob)
    ),
    "session_images_add": lambda c: (
        image := make_image(color=(7, 7, 7), name="late.png"),
        lambda: sessions.session_images_add(c.session, actor=c.alice, images=[image, c.images[0]]),
    )[1],
    # Its image, then its place in the repeat folder's subset: the outer call holds both.
    "session_import_bytes": lambda c: (
        lambda: importing.session_import_bytes(
            c.session,
            actor=c.bob,
            data=png_bytes(color=(3, 3, 3)),
            original_name="new.png",
            caption=b"cat, tree",
            folder="10_ohwx",
        )
    ),
    # Known content: its place, its tags and its caption, three events.
    "session_import_processed": lambda c: (
        processed := _known(c, (40, 80, 160)),
        lambda: importing.session_import_processed(
            c.session, actor=c.bob, processed=processed, original_name="again.png"
        ),
    )[1],
    "session_import_batch": lambda c: (
        items := [
            importing.ImportItem(_processed((5, 5, 5)), "new.png"),
            importing.ImportItem(_known(c, (0, 80, 160)), "known.png"),
            importing.ImportItem(_processed((6, 6, 6)), "newer.png"),
        ],
        lambda: importing.session_import_batch(c.session, actor=c.bob, items=items),
    )[1],
    "tag_rename": lambda c: (
        _tagged(c),
        lambda: curation.tag_rename(Tag.objects.get(name="cat"), actor=c.alice, new_name="kitty"),
    )[1],
    "tag_recategorize": lambda c: (
        _tagged(c),
        lambda: curation.tag_recategorize(
            Tag.objects.get(name="cat"), actor=c.alice, category="character"
        ),
    )[1],
    "tag_merge": lambda c: (
        _tagged(c),
        lambda: curation.tag_merge(
            Tag.objects.get(name="cat"), actor=c.alice, into=Tag.objects.get(name="tree")
        ),
    )[1],
    "autotag_enqueue": lambda c: (
        c.request.getfixturevalue("models_dir"),
        lambda: autotag_enqueue(
            c.session,
            actor=c.alice,
            image_ids=[image.pk for image in c.images],
            model=MODEL,
            options=autotag.autotag_options(),
        ),
    )[1],
    "job_enqueue": lambda c: (
        lambda: job_enqueue(c.session, actor=c.alice, kind=JobKind.AUTOTAG, params={}, total=1)
    ),
    "job_cancel": lambda c: (
        job := _queued(c),
        lambda: job_cancel(job, actor=c.alice),
    )[1],
    "job_claim": lambda c: (_queued(c), lambda: job_claim("worker-a"))[1],
    "job_finish": lambda c: (job := _claimed(c), lambda: _finished(job))[1],
    "dataset_import": lambda c: (
        opened := _dataset(c),
        lambda: dataset_import(c.session, actor=c.bob, opened=opened),
    )[1],
    "tags_restore": lambda c: (
        lambda: tags_restore(
            c.session, c.images[0].pk, actor=c.bob, entries=[("cat", TagSource.CAPTION, None)]
        )
    ),
}


class Ctx:
    def __init__(self, request, session, images, alice, bob):
        self.request, self.session, self.images = request, session, images
        self.alice, self.bob = alice, bob


def _rows(seq_after: dict[int, int]) -> list[tuple]:
    """The log's rows appended since `seq_after` (session id → its last seq then)."""
    rows = SessionEvent.objects.order_by("session_id", "seq").values_list(
        "session_id", "seq", "kind", "payload"
    )
    return [row for row in rows if row[1] > seq_after.get(row[0], 0)]


def _last_seqs() -> dict[int, int]:
    last: dict[int, int] = {}
    for session_id, seq in SessionEvent.objects.values_list("session_id", "seq"):
        last[session_id] = max(seq, last.get(session_id, 0))
    return last


def test_the_enumeration_finds_the_services():
    # Guards the reader of the modules: were it to find nothing, the tests below would be empty.
    assert {"tags_add", "batch_apply", "operation_undo", "subsets_load"} <= set(OUTCOME_SERVICES)
    assert "image_tag_state" not in APPENDING and "subsets_dump" not in APPENDING


def test_every_appending_service_returns_an_outcome():
    returns_only_a_value = sorted(
        name for name, (_, function) in APPENDING.items() if not _returns_outcome(function)
    )
    assert returns_only_a_value == []


def test_every_outcome_service_has_a_call_here():
    assert set(OUTCOME_SERVICES) == set(CALLS)


@pytest.mark.parametrize("name", OUTCOME_SERVICES)
def test_service_returns_exactly_the_events_it_appended(
    name, request, session, session_images, alice, bob
):
    call = CALLS[name](Ctx(request, session, session_images, alice, bob))
    before = _last_seqs()
    outcome = call()
    appended = _rows(before)
    assert appended, f"{name}'s call here should append an event"
    assert [
        (event.session_id, event.seq, event.kind, event.payload) for event in outcome.events
    ] == appended
    assert outcome.seq == appended[-1][1]


def test_a_service_that_appends_nothing_returns_no_events(session, session_images, bob):
    _tagged(Ctx(None, session, session_images, None, bob))
    before = _last_seqs()
    outcomes = [
        services.tags_add(session, session_images[0].pk, actor=bob, names=["cat"]),
        batch.batch_apply(session, actor=bob, image_ids=[], add=["x"]),
        written_caption.caption_replace(session, session_images[1].pk, actor=bob, text=""),
    ]
    assert _rows(before) == []
    assert [(outcome.events, outcome.seq) for outcome in outcomes] == [((), None)] * 3


# Services that gather the events of the services they call: their calls above
# reach more than one of those, so a dropped inner outcome fails the test above.
GATHERING = {
    "session_import_bytes": 2,
    "session_import_processed": 3,
    "session_import_batch": 5,
    "dataset_import": 3,
}


@pytest.mark.parametrize("name", sorted(GATHERING))
def test_a_gathering_service_holds_its_inner_services_events(
    name, request, session, session_images, alice, bob
):
    outcome = CALLS[name](Ctx(request, session, session_images, alice, bob))()
    assert len(outcome.events) >= GATHERING[name]
