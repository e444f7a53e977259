"""Migrating tag rows to the session images: sessions_app 0007 on a 100k × 25 library.

Builds a database at the shape before sessions_app 0007 (tags_imagetag on images), with
--images images of --tags tags each, all held by one session, then times the
forward migration (sessions_app 0007: copy, index, recount; then tags 0008 and
images 0002: drop the old table and column). The baseline, from the same run
and the same database, is the floor any migration pays: one bare
`CREATE TABLE … AS SELECT` of the same rows, with no index.

    .venv/bin/python bench/migration_bench.py                      (SQLite)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_migration ... (PostgreSQL)

Target: under 60 s on SQLite for 100,000 images × 25 tags.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
VOCABULARY = 5000

BEFORE = [
    ("sessions_app", "0006_session_name_unique_per_owner"),
    ("tags", "0007_tag_words"),
    ("images", "0001_initial"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=25)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"migration-{args.images}.sqlite3"
    if path.exists():
        path.unlink()
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{path}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    started = time.perf_counter()
    _populate(connection, args.images, args.tags)
    built = time.perf_counter() - started

    baseline = _baseline(connection)
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    started = time.perf_counter()
    executor.migrate(targets)
    migrated = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sessions_app_sessionimagetag")
        (moved,) = cursor.fetchone()
    assert moved == args.images * args.tags, moved

    print(f"{connection.vendor}: {args.images:,} images × {args.tags} tags ({moved:,} rows)")
    print(f"(building the old-shape database took {built:.1f} s)")
    print(f"{'step':<44} {'seconds':>8}")
    print(f"{'baseline: CREATE TABLE AS SELECT of the rows':<44} {baseline:>8.1f}")
    print(f"{'migrate forward (0007 copy+index+recount)':<44} {migrated:>8.1f}")
    print(f"{'ratio to baseline':<44} {migrated / baseline:>8.1f}×")


def _populate(connection, images: int, tags: int) -> None:
    """Old-shape rows, set-based: users, tags, images, one session, image tags."""
    now = "2026-01-01 00:00:00"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,"
            " last_name, email, is_staff, is_active, date_joined) VALUES"
            " ('', %s, 0, 'bench', '', '', '', 0, 1, %s)",
            [now, now],
        )
        cursor.execute("SELECT id FROM auth_user WHERE username = 'bench'")
        (user,) = cursor.fetchone()
        cursor.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
            " INSERT INTO tags_tag (name, category, description, image_count, popularity,"
            " created_at) SELECT 'tag' || i, 'general', '', 0, 0, %s FROM n",
            [VOCABULARY, now],
        )
        cursor.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
            " INSERT INTO images_image (sha256, file, thumbnail, original_name, width, height,"
            " format, byte_size, metadata, version, imported_by_id, created_at)"
            " SELECT printf('%%064d', i), 'originals/b/' || i || '.png', '', i || '.png',"
            " 512, 512, 'PNG', 1000, '{}', 1, %s, %s FROM n",
            [images, user, now],
        )
        cursor.execute(
            "INSERT INTO sessions_app_taggingsession (name, owner_id, description,"
            " trigger_word, separator, use_underscores, escape_parentheses, last_seq,"
            " created_at, updated_at) VALUES ('bench', %s, '', '', ', ', 0, 0, 0, %s, %s)",
            [user, now, now],
        )
        cursor.execute("SELECT id FROM sessions_app_taggingsession WHERE name = 'bench'")
        (session,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO sessions_app_sessionimage (session_id, image_id, position, status,"
            " added_at) SELECT %s, id, id, 'todo', %s FROM images_image",
            [session, now],
        )
        cursor.execute(
            "WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < %s)"
            " INSERT INTO tags_imagetag (image_id, tag_id, position, source, confidence,"
            " added_by_id, created_at)"
            f" SELECT i.id, ((i.id * 7 + k.j * 131) %% {VOCABULARY}) + 1, k.j, 'manual', NULL,"
            " %s, %s FROM images_image i CROSS JOIN k",
            [tags - 1, user, now],
        )
        cursor.execute(
            "UPDATE tags_tag SET image_count ="
            " (SELECT COUNT(*) FROM tags_imagetag x WHERE x.tag_id = tags_tag.id)"
        )


def _baseline(connection) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_copy AS SELECT si.id AS entry_id, it.tag_id, it.position,"
            " it.source, it.confidence, it.added_by_id, it.created_at"
            " FROM sessions_app_sessionimage si JOIN tags_imagetag it ON it.image_id = si.image_id"
        )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    return elapsed


if __name__ == "__main__":
    main()
