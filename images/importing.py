"""Find image files in folders and process them in worker processes, in order, memory bounded.

No database here: the caller's single writer stores each result. The workers
are processes forked from the caller, not threads: Pillow's decoders release
the GIL, but the Python between their calls (Pillow's own, the storage's,
ours) and the writer's all waited on one GIL, and on threads the same import
took ~12% longer (five runs each, 1.73 s against 1.53 s median). Forked, a
worker starts in milliseconds with everything the caller has loaded and
configured (settings, storage), and sends back only what the writer needs:
never the file's bytes. Linux and other systems with fork() only.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.files.storage import default_storage, storages
from django.utils.functional import empty

from images.processing import ImageRejected, Limits, ProcessedImage, process_image_file
from images.services import StoredFiles, image_files_store

logger = logging.getLogger(__name__)

# glibc's mallopt() parameters (malloc.h), and what a worker sets them to.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED_BYTES = 256 * 1024 * 1024
_MMAP_ABOVE_BYTES = 32 * 1024 * 1024  # glibc's largest

# Files that travel beside images (captions, per-image metadata): read with
# their image, never imported or reported on their own.
SIDECAR_SUFFIXES = frozenset({".txt", ".caption", ".json"})


@dataclass(frozen=True)
class FileResult:
    """A processed image, with the storage names of its files, or the reason it was refused.

    Once its files are stored, ``processed.data`` is empty: the bytes are in
    the storage, and the writer needs only their size (``byte_size``).
    """

    path: Path
    processed: ProcessedImage | None = None
    reason: str = ""
    files: StoredFiles | None = None


def find_image_files(roots: Sequence[Path]) -> Iterator[Path]:
    """Yield candidate image files under the roots, recursively, in sorted order.

    A root that is a file is yielded as given. In folders, hidden files and
    folders (a leading dot) and sidecar files are passed over; everything else
    is a candidate, recognized later by its content, not its extension.
    """
    for root in roots:
        if not root.is_dir():
            yield root
            continue
        for directory, subdirectories, filenames in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith(".") or is_sidecar(filename):
                    continue
                yield Path(directory) / filename


def is_sidecar(filename: str) -> bool:
    """True for caption and metadata files that belong to an image beside them."""
    return Path(filename).suffix.lower() in SIDECAR_SUFFIXES


def process_and_store(path: Path, limits: Limits) -> FileResult:
    """Process one file and write its original and thumbnail (worker thread).

    The display rendition is left to the first request for it
    (images.services.image_display_ensure): a batch brings in thousands of
    files that are each opened in the panel later, if ever, and making it
    here cost a 12 MP JPEG a decode at 1/4 scale instead of 1/8, plus an
    encode and a write (bench/import_steps.py).
    """
    try:
        processed = process_image_file(
            path,
            max_pixels=limits.max_pixels,
            max_bytes=limits.max_bytes,
            thumb_size=limits.thumb_size,
            display_size=limits.display_size,
            make_display=False,
        )
    except ImageRejected as rejected:
        return FileResult(path, reason=rejected.reason)
    except Exception as error:  # one odd file must not stop a 10,000-file import
        logger.exception("unexpected error processing %s", path)
        return FileResult(path, reason=f"cannot process: {type(error).__name__}")
    # Content-addressed and idempotent, so doing it here (in parallel, before
    # the row exists) is safe: a crash leaves files the rerun reuses.
    files = image_files_store(processed)
    return FileResult(path, processed=dataclasses.replace(processed, data=b""), files=files)


@contextmanager
def file_workers(count: int) -> Iterator[ProcessPoolExecutor]:
    """``count`` worker processes for process_in_order, forked now and stopped on leaving.

    Fork before starting any thread of your own (an event loop's, say): a
    fork copies only the thread that forks, and a lock another thread held
    at that moment would stay held in the worker for good.
    """
    if count < 1:
        raise ValueError("workers must be at least 1")
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_started,
    )
    try:
        # The first task forks every worker at once (a fork pool never adds
        # workers later): now, before the caller starts threads.
        pool.submit(os.getpid).result()
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_started() -> None:
    """First thing in each worker process: cut what it must not share with its parent."""
    # Ctrl-C reaches the whole process group: the parent stops the import and
    # then its workers, which would otherwise each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A storage of its own: the parent's may hold connections (an S3 client's
    # pool) that two processes must not both use. Django's own reset, as on
    # a STORAGES change (django.test.signals).
    storages._storages = {}
    default_storage._wrapped = empty
    _keep_freed_memory()
    # A parent killed outright (SIGKILL, OOM) cannot stop its workers: they
    # end with it instead of waiting on its queue for ever.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _keep_freed_memory() -> None:
    """Let the worker's malloc reuse what it frees instead of handing it back to the system.

    Each image's buffers (its bytes, its pixels) are megabytes, and a fresh
    process's malloc returned them to the system after each image, to fault
    them in again for the next: ~200 page faults per 1 MP JPEG, ~1,000 per
    PNG, ~1 ms of system CPU per PNG. Both thresholds are set, since setting
    either one stops glibc from adjusting the other as it goes.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc: its own defaults stand
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES)


def _exit_with(parent) -> None:
    parent.join()
    os._exit(1)


def process_in_order(
    paths: Iterable[Path],
    task: Callable[[Path], FileResult],
    *,
    pool: ProcessPoolExecutor,
    window: int,
) -> Iterator[FileResult]:
    """Run ``task`` over ``paths`` in the pool's processes, yielding results in input order.

    ``task`` must pickle (a module-level function, or a partial of one). At
    most ``window`` files are in flight or waiting to be consumed, so memory
    stays bounded however many files there are; in-order results keep
    session positions and duplicate counting deterministic.
    """
    pending: deque[Future[FileResult]] = deque()
    try:
        for path in paths:
            pending.append(pool.submit(task, path))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
