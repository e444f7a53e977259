"""Time a tag-rule change on a large session: dry-run diff, apply, undo; with a same-run baseline.

Builds (once, cached under var/bench/) a session of N images × 20 tags over
a 2,000-tag vocabulary with mixed categories, written with raw executemany.
Each round then times, on a rule change that reorders every caption by
category, pins one tag and blacklists another:

  baseline  one raw SQL pass reading every SessionImageTag row of the session
            (the floor for anything that must look at every caption);
  update floor  one raw UPDATE rewriting every row's position in place,
            rolled back (the floor for a change that moves every tag);
  dry-run   rules_preview: the diff and its sample, nothing written;
  apply     rules_apply: rules saved, images rewritten, one undoable event;
  undo      operation_undo of that event: the exact previous lists back.

After each undo the session's rows are checked against the state before the
apply (positions, sources, confidences), so the figures are of a real round
trip. Targets: under 2 s each for 10,000 images.

    PYTHONPATH=. .venv/bin/python bench/rules_bench.py [--images N] [--rounds R]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_rules ... (PostgreSQL)
"""

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
TAGS_PER_IMAGE = 20
VOCABULARY = 2000
CATEGORIES = ["general"] * 6 + ["character", "copyright", "artist", "meta"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{OUT / f'rules-{args.images}.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    session, user = build_session(args.images)
    rows = measure(session, user, args.rounds)
    print_table(args.images, rows)


def build_session(count: int):
    """The bench session, written with raw executemany (cached between runs)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from images.models import Image
    from sessions_app import services
    from sessions_app.models import SessionImage, SessionImageTag, SessionRules, TaggingSession
    from tags.models import Tag

    user, _ = get_user_model().objects.get_or_create(username="bench")
    existing = TaggingSession.objects.filter(name="rules bench").first()
    if existing is not None and existing.entries.count() == count:
        SessionRules.objects.filter(session=existing).delete()
        return existing, user
    started = time.perf_counter()
    if existing is not None:
        existing.delete()
    session = services.session_create(owner=user, name="rules bench").value
    rng = random.Random(6)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        Tag.objects.bulk_create(
            Tag(name=f"bench tag {index}", category=rng.choice(CATEGORIES))
            for index in range(VOCABULARY)
        )
        tag_ids = list(
            Tag.objects.filter(name__startswith="bench tag ").values_list("pk", flat=True)
        )
        first_image = (Image.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        cursor.executemany(
            f"INSERT INTO {Image._meta.db_table} (id, sha256, file, thumbnail, original_name,"
            " width, height, format, byte_size, metadata, created_at)"
            " VALUES (%s, %s, '', '', %s, 512, 512, 'PNG', 1000, '{}', %s)",
            [
                (
                    first_image + index,
                    hashlib.sha256(f"rules bench {index}".encode()).hexdigest(),
                    f"{index}.png",
                    now,
                )
                for index in range(count)
            ],
        )
        image_ids = range(first_image, first_image + count)
        cursor.executemany(
            f"INSERT INTO {SessionImage._meta.db_table}"
            " (session_id, image_id, position, status, version, caption, caption_version,"
            " original_name, added_at) VALUES (%s, %s, %s, 'todo', 0, '', 0, '', %s)",
            [(session.pk, image_id, position, now) for position, image_id in enumerate(image_ids)],
        )
        entry_ids = SessionImage.objects.filter(session=session).order_by("position")
        rows = []
        for image_id in entry_ids.values_list("pk", flat=True):
            for position, tag_id in enumerate(rng.sample(tag_ids, TAGS_PER_IMAGE)):
                confidence = round(rng.random(), 3) if position % 3 == 0 else None
                source = "autotagger" if confidence is not None else "caption"
                rows.append((image_id, tag_id, position, source, confidence, now))
        cursor.executemany(
            f"INSERT INTO {SessionImageTag._meta.db_table}"
            " (entry_id, tag_id, position, source, confidence, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
        counts: dict[int, int] = {}
        for _, tag_id, *_ in rows:
            counts[tag_id] = counts.get(tag_id, 0) + 1
        cursor.executemany(
            f"UPDATE {Tag._meta.db_table} SET image_count = %s WHERE id = %s",
            [(value, key) for key, value in counts.items()],
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"built {count} images × {TAGS_PER_IMAGE} tags in {time.perf_counter() - started:.1f} s")
    return session, user


def snapshot(session) -> str:
    """A digest of every row of the session's images, as undo must restore it."""
    from sessions_app.models import SessionImageTag

    rows = (
        SessionImageTag.objects.filter(entry__session=session)
        .order_by("entry_id", "position", "id")
        .values_list("entry_id", "tag_id", "position", "source", "confidence")
    )
    digest = hashlib.sha256()
    for row in rows.iterator(chunk_size=5000):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def baseline(session) -> int:
    from django.db import connection

    from sessions_app.models import SessionImage, SessionImageTag

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT it.entry_id, it.id, it.tag_id, it.position, it.source, it.confidence"
            f" FROM {SessionImageTag._meta.db_table} it JOIN {SessionImage._meta.db_table} si"
            " ON si.id = it.entry_id WHERE si.session_id = %s"
            " ORDER BY it.entry_id, it.position, it.id",
            [session.pk],
        )
        return len(cursor.fetchall())


def update_floor(session) -> int:
    """Rewrite every row's position in place (same value), then roll back: the write floor."""
    from django.db import connection, transaction

    from sessions_app.models import SessionImage, SessionImageTag

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SessionImageTag._meta.db_table} SET position = position + 0 WHERE entry_id IN"
            f" (SELECT id FROM {SessionImage._meta.db_table} WHERE session_id = %s)",
            [session.pk],
        )
        touched = cursor.rowcount
        transaction.set_rollback(True)
    return touched


def measure(session, user, rounds: int) -> list[tuple[str, list[tuple[float, float]], str]]:
    from sessions_app.rules import rules_from_input
    from sessions_app.services.rules import rules_apply, rules_preview
    from sessions_app.services.undo import operation_undo

    rules = rules_from_input(
        blacklist=["bench tag 7"],
        pinned=["bench tag 3"],
        category_order=["character", "copyright", "artist", "general", "meta"],
    )
    one_tag = rules_from_input(blacklist=["bench tag 11"])
    before = snapshot(session)

    def restored(_) -> str:
        return "exact previous state" if snapshot(session) == before else "STATE DIFFERS"

    # Each step: (what is timed, how its result is described, untimed).
    steps = {
        "baseline": (lambda: baseline(session), lambda n: f"{n} rows read"),
        "update floor": (
            lambda: update_floor(session),
            lambda n: f"one raw UPDATE of {n} rows' position, rolled back",
        ),
        "dry-run": (
            lambda: rules_preview(session, rules),
            lambda diff: f"{diff.changed} of {diff.total} images would change",
        ),
        "apply": (
            lambda: rules_apply(session, actor=user, rules=rules),
            lambda result: f"{result.changed} images rewritten, one event",
        ),
        "undo": (lambda: operation_undo(session, actor=user), restored),
        # The common case: one more blacklisted tag touches only the images that have it.
        "apply, blacklist 1 tag": (
            lambda: rules_apply(session, actor=user, rules=one_tag),
            lambda result: f"{result.changed} images rewritten, one event",
        ),
        "undo, blacklist 1 tag": (lambda: operation_undo(session, actor=user), restored),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in steps}
    notes: dict[str, str] = {}
    for _ in range(rounds):
        for name, (action, describe) in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            result = action()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            notes[name] = describe(result)
        if "STATE DIFFERS" in notes.values():
            break
    return [(name, values, notes.get(name, "")) for name, values in times.items()]


def print_table(count: int, rows) -> None:
    from django.db import connection

    print(f"\nrule change on {count} images × {TAGS_PER_IMAGE} tags ({connection.vendor})")
    print("wall = elapsed; cpu = this process only (on PostgreSQL the server's work is not in it)")
    print("| step | wall median | wall best | cpu median | vs baseline | target | note |")
    print(f"|{'---|' * 7}")
    base = statistics.median(wall for wall, _ in rows[0][1])
    for name, values, note in rows:
        median = statistics.median(wall for wall, _ in values)
        cpu = statistics.median(cpu for _, cpu in values)
        timed = name not in ("baseline", "update floor")
        target = "" if not timed else ("< 2 s ✓" if median < 2 else "< 2 s ✗")
        print(
            f"| {name} | {median * 1000:.0f} ms | {min(w for w, _ in values) * 1000:.0f} ms"
            f" | {cpu * 1000:.0f} ms | {median / base:.1f}× | {target} | {note} |"
        )


if __name__ == "__main__":
    main()
