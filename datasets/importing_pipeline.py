"""Batch import of image files into a session: worker processes decode, one writer commits.

The workers (images.importing) decode, hash, thumbnail and store files; this
thread alone talks to the database, in file order, one transaction per small
group of images (at most GROUP_SIZE images or GROUP_SECONDS of results): a
few set-based statements and one event per group instead of ~16 statements
and an event per image. Killed at any point and run again, the import
finishes the job: a group commits whole or not at all, committed images count
as duplicates the second time, files written but not committed are
content-addressed and simply reused.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from images.importing import (
    FileResult,
    file_workers,
    find_image_files,
    process_and_store,
    process_in_order,
)
from images.services import image_limits
from sessions_app.models import TaggingSession
from sessions_app.repeat_folders import RepeatFolder, repeat_folder_of
from sessions_app.services.importing import ImportItem, session_import_batch
from sessions_app.services.subsets import kept_apart, subsets_place

# A group commits when it holds this many images, or when its first result
# has waited this long (the progress bar and live clients see images arrive).
# It holds no file's bytes (the workers stored them), only thumbnails.
GROUP_SIZE = 32
# 0.25 s, not 0.1: with groups cut at 0.1 s the writer took 2.2 ms of CPU per
# 1 MP PNG, at 0.25 s 0.9 ms (bench/import_steps.py, WRITER, one worker).
GROUP_SECONDS = 0.25


@dataclass
class ImportReport:
    """Counts of one batch import, and why each refused file was refused."""

    imported: int = 0
    duplicates: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    # (image path, token, reason) for caption/prompt tokens that are not tag names.
    skipped_tags: list[tuple[str, str, str]] = field(default_factory=list)
    # (image path, folder) for a file whose content is already in another repeat folder's
    # subset: a session holds an image once, so it stays there.
    kept_apart: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "duplicates": self.duplicates, "skipped": self.skipped}


def candidate_files(roots: Sequence[Path]) -> list[Path]:
    """Every file the import will look at (a list of paths: cheap even for 100k files)."""
    return list(find_image_files(roots))


def import_files(
    session: TaggingSession,
    *,
    actor,
    files: Sequence[Path],
    workers: int,
    on_file: Callable[[], None] = lambda: None,
    roots: Sequence[Path] = (),
) -> ImportReport:
    """Import the files into the session; ``on_file`` is called after each (progress).

    A file directly inside a kohya repeat folder under one of ``roots``
    (`root/10_ohwx/x.png`) joins that subset of the session, created if missing.
    Call from synchronous code (a command, a test), not from an event loop.
    Ctrl-C (SIGINT, in the main thread) stops it after the group it is
    working on is committed, and raises ImportInterrupted.
    """
    # Each image's event is broadcast after commit through async_to_sync. From
    # a plain thread that starts a thread and an event loop per event (~1 ms,
    # more than the rest of the writer's work); under one outer loop every
    # broadcast is handed to that loop instead (~40 µs). thread_sensitive keeps
    # the writer in this thread, with this thread's database connection.
    writer = sync_to_async(_import_files, thread_sensitive=True)
    stop = threading.Event()
    # Ctrl-C's handler first, so that the workers fork with it; then the
    # workers, before async_to_sync starts its loop's thread.
    with _ctrl_c_sets(stop), file_workers(workers) as pool:
        report = async_to_sync(writer)(
            session, actor, files, pool, workers, on_file, tuple(roots), stop
        )
    if stop.is_set():
        raise ImportInterrupted(report)
    return report


class ImportInterrupted(Exception):
    """Ctrl-C stopped the import between two groups; ``report`` counts what was committed."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("interrupted")
        self.report = report


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """While the import runs, Ctrl-C sets ``stop`` instead of raising where the main thread is.

    A KeyboardInterrupt raised while the main thread waits inside
    async_to_sync left the loop's thread waiting for ever, and the process
    with it, at exit. A second Ctrl-C is Python's own again. Signal handlers
    belong to the main thread: called from another, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    previous = signal.getsignal(signal.SIGINT)

    def interrupted(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def subset_folder_of(path: Path, roots: Sequence[Path]) -> RepeatFolder | None:
    """The repeat folder `path` sits directly in, below one of the roots (not the root itself).

    The root is where the user pointed, like sd-scripts' train_data_dir: a
    root called `2024_photos` is not a subset of 2024 repeats.
    """
    for root in roots:
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        return repeat_folder_of(relative.as_posix())
    return None


def _import_files(
    session: TaggingSession,
    actor,
    files: Sequence[Path],
    pool: ProcessPoolExecutor,
    workers: int,
    on_file: Callable[[], None],
    roots: tuple[Path, ...],
    stop: threading.Event,
) -> ImportReport:
    report = ImportReport()
    group: list[FileResult] = []
    started = 0.0
    task = partial(process_and_store, limits=image_limits())
    # Two files per worker in flight, plus two: no worker waits for the writer.
    for result in process_in_order(files, task, pool=pool, window=2 * workers + 2):
        if stop.is_set():
            break  # what is grouped is processed and stored: commit it below
        if result.processed is None:
            report.skipped.append({"path": str(result.path), "reason": result.reason})
            on_file()
        else:
            if not group:
                started = time.monotonic()
            group.append(result)
        if group and (len(group) >= GROUP_SIZE or time.monotonic() - started >= GROUP_SECONDS):
            _commit_group(session, actor, group, report, on_file, roots)
            group = []
    if group:
        _commit_group(session, actor, group, report, on_file, roots)
    return report


def _commit_group(
    session: TaggingSession,
    actor,
    group: Sequence[FileResult],
    report: ImportReport,
    on_file: Callable[[], None],
    roots: tuple[Path, ...] = (),
) -> None:
    results = [r for r in group if r.processed]
    items = [ImportItem(r.processed, str(r.path), r.files) for r in results]
    placements: dict[RepeatFolder, list[int]] = {}
    placed: list[tuple[str, int, RepeatFolder]] = []
    outcomes = session_import_batch(session, actor=actor, items=items).value
    for result, outcome in zip(results, outcomes, strict=True):
        folder = subset_folder_of(result.path, roots)
        if folder is not None and outcome.image_id is not None and outcome.status != "skipped":
            placements.setdefault(folder, []).append(outcome.image_id)
            placed.append((str(result.path), outcome.image_id, folder))
    if placements:
        # After the group's commit: a rerun places what a crash left flat (duplicates count).
        kept = subsets_place(session, actor=actor, placements=placements).value
        report.kept_apart += kept_apart(placed, kept)
    for outcome in outcomes:
        path = outcome.original_name
        if outcome.status == "skipped":
            report.skipped.append({"path": path, "reason": outcome.reason})
        elif outcome.status == "imported":
            report.imported += 1
        else:
            report.duplicates += 1
        report.skipped_tags += [(path, s.token, s.reason) for s in outcome.skipped_tags]
        on_file()
