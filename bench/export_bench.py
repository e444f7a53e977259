"""Time the dataset export against a plain zip of the same files, measured in the same run.

Builds (once, cached under var/bench/) a session of N noise JPEGs with 25
tags each in a fresh SQLite file, then times:

  baseline  zipfile writing the stored originals (read straight from disk)
            and pre-built caption strings: the floor for producing this zip;
  stream    export_stream(session, "kohya"): the API's streamed zip;
  folder    export_to_path(..., folder) with kohya captions, against a
            second baseline: copying the files and writing the captions;
  json      the Tagger JSON document alone (no images).

It also reports the peak Python memory of one streamed export (tracemalloc),
which stays bounded by a chunk of rows and one read buffer.

    PYTHONPATH=. .venv/bin/python bench/export_bench.py [--images N]
"""

import argparse
import io
import os
import random
import shutil
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
TAGS_PER_IMAGE = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    db_path = OUT / f"export-{args.images}.sqlite3"
    media = OUT / f"export-{args.images}-media"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    OUT.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    session = build_session(args.images)
    results = measure(session)
    print_table(args.images, results)


def noise_jpeg(rng: random.Random, size=(512, 512)) -> bytes:
    from PIL import Image

    pixels = rng.randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def build_session(count: int):
    """A session of `count` images with 25 tags each, made through the services (cached)."""
    from django.contrib.auth import get_user_model

    from sessions_app import services
    from sessions_app.models import TaggingSession

    existing = TaggingSession.objects.filter(name="export bench").first()
    if existing is not None and existing.entries.count() == count:
        return existing
    user, _ = get_user_model().objects.get_or_create(username="bench")
    session = existing or services.session_create(owner=user, name="export bench").value
    rng = random.Random(2)
    ids = []
    for index in range(count):
        outcome = services.session_import_bytes(
            session, actor=user, data=noise_jpeg(rng), original_name=f"img{index % 400}.jpg"
        ).value
        ids.append(outcome.image_id)
    vocabulary = [f"tag {n}" for n in range(200)]
    # Set-based: a few batches give every image 25 tags in varied orders.
    for round_ in range(TAGS_PER_IMAGE):
        for group in range(4):
            members = [i for n, i in enumerate(ids) if n % 4 == group]
            name = vocabulary[(round_ * 7 + group * 13) % len(vocabulary)]
            services.batch_apply(session, actor=user, image_ids=members, add=[name])
    services.session_update(session, actor=user, trigger_word="ohwx")
    return session


class Counter:
    """A sink that only counts: the network or disk is not what is measured."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def best_of(run, repeat: int = 3) -> tuple[float, int]:
    """Fastest of `repeat` runs (the first warms the page cache), with the bytes produced."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        size = run()
        timings.append(time.perf_counter() - start)
    return min(timings), size


def measure(session) -> dict[str, tuple[float, int, str]]:
    from django.core.files.storage import default_storage

    from datasets.exporting import ExportOptions, export_stream, export_to_path
    from datasets.exporting.base import caption_for
    from datasets.exporting.rows import export_rows

    # Baseline inputs prepared outside the timing: names, paths and captions.
    options = ExportOptions().resolved(session)
    plan = [
        (
            f"{n}.jpg",
            default_storage.path(row.image.file.name),
            caption_for([t.name for t in row.tags], options).text(options).encode(),
        )
        for n, row in enumerate(export_rows(session))
    ]
    folder = OUT / "export-folder"

    def raw_zip() -> int:
        sink = Counter()
        with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
            for name, path, caption in plan:
                with open(path, "rb") as handle:
                    archive.writestr(name, handle.read(), compress_type=zipfile.ZIP_STORED)
                archive.writestr(name[:-4] + ".txt", caption, compress_type=zipfile.ZIP_DEFLATED)
        return sink.bytes

    def stream_zip() -> int:
        return sum(len(chunk) for chunk in export_stream(session, "kohya").chunks)

    def raw_folder() -> int:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, path, caption in plan:
            shutil.copyfile(path, folder / name)
            (folder / (name[:-4] + ".txt")).write_bytes(caption)
        return sum(p.stat().st_size for p in folder.iterdir())

    def export_folder() -> int:
        shutil.rmtree(folder, ignore_errors=True)
        export_to_path(session, "kohya", folder)
        return sum(p.stat().st_size for p in folder.iterdir())

    def document() -> int:
        stream = export_stream(session, "json", ExportOptions(include_images=False))
        return sum(len(chunk) for chunk in stream.chunks)

    results = {
        "baseline: zipfile of the stored files": (*best_of(raw_zip), "zip"),
        "export_stream kohya (zip)": (*best_of(stream_zip), "zip"),
        "baseline: copy files + write captions": (*best_of(raw_folder), "folder"),
        "export_to_path kohya (folder)": (*best_of(export_folder), "folder"),
        "tagger.json document only": (*best_of(document), "zip"),
    }
    shutil.rmtree(folder, ignore_errors=True)

    tracemalloc.start()
    stream_zip()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results["_peak"] = (0.0, peak, "")
    return results


def print_table(images: int, results: dict[str, tuple[float, int, str]]) -> None:
    _, peak, _ = results.pop("_peak")
    baselines = {
        kind: seconds for case, (seconds, _, kind) in results.items() if "baseline" in case
    }
    print(f"\nexport of {images} images (512x512 JPEG, {TAGS_PER_IMAGE} tags each), SQLite")
    print("best of 3 runs; each case against the baseline of its kind (zip or folder)\n")
    print(f"| {'case':<38} | {'seconds':>7} | {'images/s':>8} | {'MB/s':>7} | {'x baseline':>10} |")
    print(f"| {'-' * 38} | {'-' * 7} | {'-' * 8} | {'-' * 7} | {'-' * 10} |")
    for case, (seconds, size, kind) in results.items():
        print(
            f"| {case:<38} | {seconds:7.3f} | {images / seconds:8.0f} | "
            f"{size / seconds / 1e6:7.1f} | {seconds / baselines[kind]:10.2f} |"
        )
    print(f"\npeak Python memory during one streamed kohya export: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
