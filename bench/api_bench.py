"""API latency on 100,000 images × 25 tags over 50,000 tags, through a live daphne.

The database is generated once with raw `executemany` (Zipf-like tag use) and
cached under var/bench/; each run works on fresh copies of it. Baselines from
the same run: the floor (a no-op authenticated endpoint on the same
connection) and, for the writes, their best raw-SQL form on another copy of
the database. Each read alternates with the floor in blocks of 25 requests
and is judged against the floor requests made between its own: a burst of
noise on the machine (a shared VM's neighbours) lands on both, not on
whichever scenario happened to run during it.

    PYTHONPATH=. .venv/bin/python bench/api_bench.py [--requests 500] [--regenerate]
        [--vocabulary 100000]

The server keeps two per-process read caches: tag labels (tags.labels, read
when the worker starts) and each image's tags by version (sessions_app.captions,
filled as pages are read). The 500 AND + NOT queries are all different, so a
page finds its images cached only where earlier queries matched them too;
the deep pages repeat ten paths, so after the first pass they come from it.

--vocabulary N first imports a generated N-row tagcomplete CSV (the one
bench/vocabulary_bench.py writes) into the server's copy with
`import_vocabulary`, so autocomplete is measured over the dataset's tags plus
a booru-sized vocabulary and its aliases.
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from itertools import accumulate
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
CACHED = OUT / "api-100k.sqlite3"
SERVER_DB = OUT / "api-run-server.sqlite3"
RAW_DB = OUT / "api-run-raw.sqlite3"
GENERATION = "api-bench-v2"  # v2: tag rows on the session image
IMAGES, TAGS, PER_IMAGE = 100_000, 50_000, 25
SECRET = "tg_bench_api_token_secret"
NOW = "2026-01-01 00:00:00"
FLOOR = "/api/auth/me"
BLOCK = 25


# --- the database ---------------------------------------------------------------------


def generate(path: Path) -> float:
    """Migrate an empty file, then fill it with raw executemany. Returns seconds taken."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name,"
        " email, is_staff, is_active, date_joined)"
        " VALUES (1, '!', 1, 'bench', '', '', '', 1, 1, ?)",
        [NOW],
    )
    db.execute(
        "INSERT INTO accounts_apitoken (user_id, name, token_hash, created_at)"
        " VALUES (1, 'b', ?, ?)",
        [hashlib.sha256(SECRET.encode()).hexdigest(), NOW],
    )
    db.execute(
        "INSERT INTO sessions_app_taggingsession (id, name, owner_id, description, trigger_word,"
        " separator, use_underscores, escape_parentheses, caption_style, last_seq, created_at,"
        " updated_at) VALUES (1, 'Bench', 1, '', '', ', ', 0, 0, '{}', 0, ?, ?)",
        [NOW, NOW],
    )
    db.execute(
        "INSERT INTO sessions_app_sessionmember (session_id, user_id, role, created_at)"
        " VALUES (1, 1, 'owner', ?)",
        [NOW],
    )
    rng = random.Random(1)
    db.executemany(
        "INSERT INTO images_image (id, sha256, file, thumbnail, display, original_name, width,"
        " height, format, byte_size, metadata, imported_by_id, created_at)"
        " VALUES (?, ?, ?, ?, '', ?, 512, 512, 'PNG', 1000, '{}', 1, ?)",
        (
            (
                i,
                hashlib.sha256(str(i).encode()).hexdigest(),
                f"o/{i}.png",
                f"t/{i}.jpg",
                f"{i}.png",
                NOW,
            )
            for i in range(1, IMAGES + 1)
        ),
    )
    db.executemany(
        "INSERT INTO sessions_app_sessionimage (id, session_id, image_id, position, status,"
        " version, caption, caption_version, original_name, added_at)"
        " VALUES (?, 1, ?, ?, 'todo', 0, '', 0, ?, ?)",
        ((i, i, i, f"{i}.png", NOW) for i in range(1, IMAGES + 1)),
    )
    db.executemany(
        "INSERT INTO tags_tag (id, name, category, description, image_count, popularity,"
        " created_at) VALUES (?, ?, 'general', '', 0, 0, ?)",
        ((rank, name, NOW) for rank, name in enumerate(tag_names(rng), start=1)),
    )
    # Zipf (s = 1): the tag of rank r is drawn with weight 1/r.
    cumulative = list(accumulate(1 / rank for rank in range(1, TAGS + 1)))
    ranks = range(1, TAGS + 1)

    def rows():
        for image_id in range(1, IMAGES + 1):
            chosen: dict[int, None] = {}
            while len(chosen) < PER_IMAGE:
                for rank in rng.choices(ranks, cum_weights=cumulative, k=PER_IMAGE):
                    chosen.setdefault(rank)
            for position, tag_id in enumerate(list(chosen)[:PER_IMAGE]):
                yield image_id, tag_id, position, NOW

    db.executemany(
        # Entry i is image i's place in the one session.
        "INSERT INTO sessions_app_sessionimagetag (entry_id, tag_id, position, source,"
        " added_by_id, created_at) VALUES (?, ?, ?, 'manual', 1, ?)",
        rows(),
    )
    db.execute(
        "UPDATE tags_tag SET image_count ="
        " (SELECT COUNT(*) FROM sessions_app_sessionimagetag WHERE tag_id = tags_tag.id)"
    )
    db.execute("CREATE TABLE bench_meta (generation TEXT)")
    db.execute("INSERT INTO bench_meta VALUES (?)", [GENERATION])
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started


def tag_names(rng: random.Random) -> list[str]:
    """50,000 distinct booru-like names made of syllables, so prefixes spread like words."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    names: dict[str, None] = {}
    while len(names) < TAGS:
        words = [
            "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))
            for _ in range(rng.randint(1, 2))
        ]
        names.setdefault(" ".join(words))
    return list(names)


def cached_database(regenerate: bool) -> str:
    if not regenerate and CACHED.exists():
        try:
            db = sqlite3.connect(CACHED)
            (generation,) = db.execute("SELECT generation FROM bench_meta").fetchone()
            db.close()
            if generation == GENERATION:
                return "cached"
        except sqlite3.Error:
            pass
    return f"generated in {generate(CACHED):.0f} s"


def import_vocabulary(target: Path, rows: int) -> str:
    """Import a generated `rows`-row tagcomplete CSV into the database at `target`."""
    from vocabulary_bench import generate_csv  # bench/ is this script's folder

    csv_path = generate_csv(rows)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{target}"}
    subprocess.run(
        [sys.executable, "manage.py", "import_vocabulary", str(csv_path), "--json"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    db = sqlite3.connect(target)
    tags, aliases = db.execute(
        "SELECT (SELECT COUNT(*) FROM tags_tag), (SELECT COUNT(*) FROM tags_tagalias)"
    ).fetchone()
    db.close()
    return f"; vocabulary of {rows:,} rows imported: {tags:,} tags, {aliases:,} aliases"


def fresh_copy(target: Path) -> None:
    """Copy the cached database and bring it up to the code's migrations (added since)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(CACHED, target)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{target}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


# --- the server and the client ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{SERVER_DB}",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 50,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("daphne did not start")


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body=None) -> tuple[float, dict]:
        data = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status >= 400:
            raise SystemExit(f"{method} {path[:120]} → {response.status}: {payload[:300]!r}")
        return elapsed, json.loads(payload) if payload else {}

    def times(self, paths: list[str]) -> tuple[list[float], list[float]]:
        """Each path's latency, and the floor's, in alternating blocks of BLOCK requests.

        The first request after a switch is not counted: it would carry the
        other kind's aftermath (a 90 KB page's garbage, warm or cold caches).
        """
        floor, measured = [], []
        for start in range(0, len(paths), BLOCK):
            block = paths[start : start + BLOCK]
            self.request("GET", FLOOR)
            floor += [self.request("GET", FLOOR)[0] for _ in block]
            self.request("GET", paths[start - 1])  # the previous block's last path
            measured += [self.request("GET", path)[0] for path in block]
        return measured, floor


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


# --- scenarios -----------------------------------------------------------------------------


def pick_tags(
    db: sqlite3.Connection, low: int, high: int, count: int
) -> list[tuple[int, str, int]]:
    return db.execute(
        "SELECT id, name, image_count FROM tags_tag WHERE image_count BETWEEN ? AND ?"
        " ORDER BY image_count DESC LIMIT ?",
        [low, high, count],
    ).fetchall()


def raw_batch_add(db: sqlite3.Connection, tag_id: int, first: int, last: int) -> float:
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "INSERT INTO sessions_app_sessionimagetag (entry_id, tag_id, position, source,"
        " added_by_id, created_at)"
        " SELECT si.id, ?, COALESCE((SELECT MAX(position) FROM sessions_app_sessionimagetag it"
        " WHERE it.entry_id = si.id), -1) + 1, 'manual', 1, ?"
        " FROM sessions_app_sessionimage si WHERE si.session_id = 1"
        " AND si.image_id BETWEEN ? AND ? AND NOT EXISTS (SELECT 1"
        " FROM sessions_app_sessionimagetag ex WHERE ex.entry_id = si.id AND ex.tag_id = ?)",
        [tag_id, NOW, first, last, tag_id],
    )
    added = db.execute("SELECT changes()").fetchone()[0]
    db.execute("UPDATE tags_tag SET image_count = image_count + ? WHERE id = ?", [added, tag_id])
    db.execute(
        "UPDATE sessions_app_sessionimage SET version = version + 1"
        " WHERE session_id = 1 AND image_id BETWEEN ? AND ?",
        [first, last],
    )
    db.execute("COMMIT")
    return (time.perf_counter() - started) * 1000


def raw_merge(db: sqlite3.Connection, source: int, into: int) -> float:
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "UPDATE sessions_app_sessionimage SET version = version + 1"
        " WHERE id IN (SELECT entry_id FROM sessions_app_sessionimagetag WHERE tag_id = ?)",
        [source],
    )
    db.execute(
        "DELETE FROM sessions_app_sessionimagetag WHERE tag_id = ?"
        " AND entry_id IN (SELECT entry_id FROM sessions_app_sessionimagetag WHERE tag_id = ?)",
        [source, into],
    )
    moved = db.execute(
        "UPDATE sessions_app_sessionimagetag SET tag_id = ? WHERE tag_id = ?", [into, source]
    ).rowcount
    db.execute("UPDATE tags_tag SET image_count = image_count + ? WHERE id = ?", [moved, into])
    name = db.execute("SELECT name FROM tags_tag WHERE id = ?", [source]).fetchone()[0]
    db.execute("DELETE FROM tags_tag WHERE id = ?", [source])
    db.execute(
        "INSERT INTO tags_tagalias (name, tag_id, created_at) VALUES (?, ?, ?)", [name, into, NOW]
    )
    db.execute("COMMIT")
    return (time.perf_counter() - started) * 1000


def run(requests: int, writes: int) -> list[tuple]:
    rng = random.Random(7)
    db = sqlite3.connect(SERVER_DB, isolation_level=None)
    names = [row[0] for row in db.execute("SELECT name FROM tags_tag")]
    rare = pick_tags(db, 3_000, 8_000, 20)
    common = pick_tags(db, 20_000, 60_000, 20)
    middling = pick_tags(db, 8_000, 20_000, 20)
    merge_pairs = pick_tags(db, 7_000, 14_000, 2 * writes)
    db.close()

    port = free_port()
    server = start_server(port)
    rows: list[tuple] = []
    try:
        client = Client(port)
        for _ in range(20):  # warm up: imports, connections, caches
            client.request("GET", FLOOR)
            client.request("GET", "/api/tags?prefix=ba&limit=10")
        floors: list[float] = []

        def read(name: str, paths: list[str], times_floor: int) -> None:
            measured, floor = client.times(paths)
            floors.extend(floor)
            median, p99 = summary(measured)
            limit = times_floor * summary(floor)[1]
            note = f"p99 ≤ {times_floor}× floor: {verdict(p99, limit)}"
            rows.append((name, median, p99, note))

        prefixes = [name[: rng.randint(1, 3)] for name in rng.sample(names, requests)]
        read(
            "autocomplete by prefix (limit 10)",
            [f"/api/tags?prefix={quote(p)}&limit=10" for p in prefixes],
            2,
        )

        queries = []
        for _ in range(requests):
            a, b, c = rng.choice(rare), rng.choice(common), rng.choice(middling)
            queries.append(f"{a[1]}, {b[1]}, -{c[1]}")
        read(
            "3-term AND + NOT, limit 50",
            [f"/api/sessions/1/images?{urlencode({'q': q, 'limit': 50})}" for q in queries],
            3,
        )

        deep_paths = []
        for tag in common[:10]:
            path = f"/api/sessions/1/images?{urlencode({'q': tag[1], 'limit': 500})}"
            cursor = None
            for _ in range(4):
                _, body = client.request("GET", path + (f"&cursor={cursor}" if cursor else ""))
                cursor = body["next_cursor"]
            deep_paths.append(
                f"/api/sessions/1/images?{urlencode({'q': tag[1], 'limit': 50, 'cursor': cursor})}"
            )
        read(
            "deep page (cursor after 2,000 hits)",
            [deep_paths[i % len(deep_paths)] for i in range(requests)],
            3,
        )

        cursor = None
        for _ in range(4):
            _, body = client.request(
                "GET", "/api/sessions/1/images?limit=500" + (f"&cursor={cursor}" if cursor else "")
            )
            cursor = body["next_cursor"]
        read(
            "deep page, no filter (after 2,000)",
            [f"/api/sessions/1/images?limit=50&cursor={cursor}"] * requests,
            3,
        )
        rows.insert(0, (f"floor: GET {FLOOR} (all)", *summary(floors), "baseline"))

        cold, _ = client.request("GET", "/api/sessions/1/tags?limit=100")
        counts = summary(client.times(["/api/sessions/1/tags?limit=100"] * requests)[0])
        rows.append(
            ("session tag counts (cached per seq)", *counts, f"cold GROUP BY: {cold:.0f} ms")
        )

        fresh_copy(RAW_DB)
        raw = sqlite3.connect(RAW_DB, isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        api_batch, raw_batch = [], []
        for k in range(writes):
            first, last = k * 10_000 + 1, (k + 1) * 10_000
            body = {
                "selection": {"image_ids": list(range(first, last + 1))},
                "add": [f"bench batch {k}"],
            }
            elapsed, answer = client.request("POST", "/api/sessions/1/batch", body)
            assert answer["changed"] == 10_000, answer
            api_batch.append(elapsed)
            tag_id = raw.execute(
                "INSERT INTO tags_tag (name, category, description, image_count, popularity,"
                " created_at) VALUES (?, 'general', '', 0, 0, ?)",
                [f"bench batch {k}", NOW],
            ).lastrowid
            raw_batch.append(raw_batch_add(raw, tag_id, first, last))
        rows.append(("raw SQL: add a tag to 10k images", *summary(raw_batch), "baseline"))
        batch = summary(api_batch)
        rows.append(
            (
                "batch add 1 tag to 10,000 images",
                *batch,
                f"≤ 2× raw: {verdict(batch[0], 2 * statistics.median(raw_batch))}",
            )
        )

        api_merge, raw_merges = [], []
        for k in range(len(merge_pairs) // 2):
            (source, source_name, _), (into, into_name, _) = (
                merge_pairs[2 * k],
                merge_pairs[2 * k + 1],
            )
            elapsed, answer = client.request(
                "POST", f"/api/tags/{quote(source_name)}/merge", {"into": into_name}
            )
            api_merge.append(elapsed)
            raw_merges.append(raw_merge(raw, source, into))
        raw.close()
        rows.append(("raw SQL: merge a 10k-image tag", *summary(raw_merges), "baseline"))
        merge = summary(api_merge)
        rows.append(
            (
                "merge a tag on ~10,000 images",
                *merge,
                f"≤ 2× raw: {verdict(merge[0], 2 * statistics.median(raw_merges))}",
            )
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return rows


def verdict(value: float, limit: float) -> str:
    return f"{'met' if value <= limit else 'MISSED'} ({value:.2f} vs {limit:.2f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--vocabulary", type=int, default=0, metavar="ROWS")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    state = cached_database(args.regenerate)
    fresh_copy(SERVER_DB)
    if args.vocabulary:
        state += import_vocabulary(SERVER_DB, args.vocabulary)
    rows = run(args.requests, args.writes)
    print(
        f"\nAPI through daphne, SQLite, {IMAGES:,} images × {PER_IMAGE} tags over {TAGS:,} tags "
        f"(database {state}); {args.requests} requests per read, {args.writes} per write\n"
    )
    print(f"| {'operation':<38} | {'median ms':>9} | {'p99 ms':>8} | target / note")
    print(f"| {'-' * 38} | {'-' * 9} | {'-' * 8} | ---")
    for name, median, p99, note in rows:
        print(f"| {name:<38} | {median:>9.2f} | {p99:>8.2f} | {note}")


if __name__ == "__main__":
    main()
