"""Where an imported image's CPU goes, step by step and per kind, beside the plain Pillow loop.

One thread, CPU time (time.thread_time) per image, averaged over every file
of each kind in import_bench's folder (generated there first if missing).
The step rows redo with Pillow what images.processing does, one step at a
time, so that each can be timed alone; the rows in capitals are the
project's own functions, timed whole:

- PROCESS_IMAGE_FILE: read, hash, check, decode, thumbnail, metadata, sidecar;
- STORE FILES: image_files_store, the original and thumbnail written (a batch
  import leaves the display rendition to its first request, timed on its own);
- WRITER: the database side of import_files (workers=1, fresh SQLite),
  i.e. that import's CPU minus the two rows above, measured on the same files;
- IMPORT_FILES: the whole in-process import, one worker process, no start-up.

The plain loop row is import_bench's (a), from the same run.

    PYTHONPATH=. .venv/bin/python bench/import_steps.py
"""

from __future__ import annotations

import hashlib
import io
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from import_bench import KINDS, cache_folder, generate, image_files
from isal import isal_zlib
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
THUMB = 256
# Not import work: what the first GET /api/images/<id>/display does, once per image.
FIRST_VIEW = "first /display GET: decode + render (later)"


def cpu_ms(step: Callable[[], object]) -> tuple[object, float]:
    start = time.thread_time()
    result = step()
    return result, (time.thread_time() - start) * 1000


def plain(path: Path) -> None:
    with Image.open(path) as im:
        im.thumbnail((THUMB, THUMB))
        im.convert("RGB").save(io.BytesIO(), "JPEG")


def _idat_run_end(data: bytes, position: int) -> int:
    while data[position + 4 : position + 8] == b"IDAT":
        position += 12 + int.from_bytes(data[position : position + 4], "big")
    return position


def steps_of(path: Path) -> dict[str, float]:
    """Each step of one file's processing, timed alone (ms of CPU)."""
    from images import png_pixels
    from images.metadata import read_generation_metadata
    from images.processing import THUMBNAIL_REDUCING_GAP, render_display
    from images.sidecars import read_sidecar_caption

    row: dict[str, float] = {}
    _, row["plain loop body (open, thumbnail, save)"] = cpu_ms(lambda: plain(path))
    data, row["read the bytes"] = cpu_ms(path.read_bytes)
    _, row["sha256"] = cpu_ms(lambda: hashlib.sha256(data).hexdigest())
    _, row["crc32 over all bytes (PNG chunk check)"] = cpu_ms(lambda: isal_zlib.crc32(data))
    im, row["open (header only)"] = cpu_ms(lambda: Image.open(io.BytesIO(data)))
    row["PNG: inflate IDAT with ISA-L, rebuild"] = 0.0
    if im.format == "PNG":
        start = im.tile[0].offset - 8
        run = (start, _idat_run_end(data, start))
        needed = png_pixels.raw_length(data[16:29])
        rebuilt, row["PNG: inflate IDAT with ISA-L, rebuild"] = cpu_ms(
            lambda: png_pixels.with_inflated_idat(data, run, needed)
        )
        im = Image.open(io.BytesIO(rebuilt))
    # A batch import decodes at the thumbnail's scale: the display rendition
    # waits for its first request (timed alone below, not part of the sum).
    scale = THUMB / max(im.size)
    box = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    if im.format == "JPEG":
        im.draft("RGB", box)
    _, row["decode (JPEG: draft to the thumbnail box)"] = cpu_ms(im.load)
    _, row["reduce + resize to the thumbnail"] = cpu_ms(
        lambda: im.thumbnail((THUMB, THUMB), reducing_gap=THUMBNAIL_REDUCING_GAP)
    )
    _, row["encode the thumbnail (JPEG)"] = cpu_ms(
        lambda: im.convert("RGB").save(io.BytesIO(), "JPEG", quality=85)
    )
    _, row["EXIF + generation metadata"] = cpu_ms(
        lambda: read_generation_metadata(im.info, im.getexif())
    )
    _, row["caption sidecar"] = cpu_ms(lambda: read_sidecar_caption(path))
    im.close()
    _, row[FIRST_VIEW] = cpu_ms(lambda: render_display(data, max_pixels=10**8))
    return row


def process_and_workers_cpu() -> float:
    """CPU seconds of this process and its ended children (import_files's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def project_rows(kind: str, files: list[Path], work: Path) -> dict[str, float]:
    """The project's functions on the same files: processing, storage, the writer (ms/img)."""
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from datasets.importing_pipeline import import_files
    from images.processing import process_image_file
    from images.services import image_files_store, image_limits
    from sessions_app.services import session_create

    limits = image_limits()
    process = store = 0.0
    with override_settings(MEDIA_ROOT=str(work / f"media-steps-{kind}")):
        for path in files:
            processed, ms = cpu_ms(
                lambda path=path: process_image_file(
                    path,
                    max_pixels=limits.max_pixels,
                    max_bytes=limits.max_bytes,
                    make_display=False,
                )
            )
            process += ms
            _, ms = cpu_ms(lambda processed=processed: image_files_store(processed))
            store += ms
    user = get_user_model().objects.get_or_create(username="steps")[0]
    session = session_create(owner=user, name=kind).value
    with override_settings(MEDIA_ROOT=str(work / f"media-import-{kind}")):
        start = process_and_workers_cpu()
        report = import_files(session, actor=user, files=files, workers=1)
        total = (process_and_workers_cpu() - start) * 1000
    if report.imported != len(files):
        sys.exit(f"{kind}: imported {report.imported} of {len(files)}")
    n = len(files)
    return {
        "PROCESS_IMAGE_FILE": process / n,
        "STORE FILES (original, thumbnail)": store / n,
        "WRITER (database, events)": (total - process - store) / n,
        "IMPORT_FILES, one worker": total / n,
    }


def setup_django(work: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'steps.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main() -> None:
    folder = cache_folder(1)
    if not folder.exists():
        print(f"generating images into {folder} (once) ...", flush=True)
        generate(folder, 1)
    load_before = os.getloadavg()[0]
    table: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="import-steps-") as tmp:
        setup_django(Path(tmp))
        for kind, _, _ in KINDS:
            files = image_files(folder / kind)
            plain(files[0])  # warm up Pillow's plugins and the page cache
            sums: dict[str, float] = {}
            for path in files:
                for step, ms in steps_of(path).items():
                    sums[step] = sums.get(step, 0.0) + ms
            column = {step: ms / len(files) for step, ms in sums.items()}
            column["sum of the steps (without the plain loop)"] = sum(
                ms
                for step, ms in column.items()
                if not step.startswith("plain") and step != FIRST_VIEW
            )
            column.update(project_rows(kind, files, Path(tmp)))
            table[kind] = column
    print(f"\nCPU ms per image, one thread; load before/after {load_before:.2f} / ", end="")
    print(f"{os.getloadavg()[0]:.2f}")
    kinds = [kind for kind, _, _ in KINDS]
    print(f"| {'step':<44} | " + " | ".join(f"{k:>9}" for k in kinds) + " |")
    print(f"| {'-' * 44} | " + " | ".join("-" * 8 + ":" for _ in kinds) + " |")
    for step in table[kinds[0]]:
        cells = " | ".join(f"{table[k][step]:9.2f}" for k in kinds)
        print(f"| {step:<44} | {cells} |")


if __name__ == "__main__":
    main()
