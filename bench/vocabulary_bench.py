"""Time `import_vocabulary` of a generated danbooru-sized tagcomplete CSV, and autocomplete on it.

The file is shaped like tagcomplete's real danbooru.csv (140,782 rows): Zipf
post counts, danbooru's mix of types, names of one to eight words with series
qualifiers (`name_(series)`, up to 110 characters), ~30,000 aliases on ~19,000
rows and three names that start with `#`; ~2.1 words (~14 characters) a
name, as there. It runs against a fresh SQLite file
under var/bench/ (never the development database).

Baselines from the same run: parsing alone, and a raw `executemany` of the
same rows (tags, then aliases) into scratch tables, the floor for getting
them into this database at all. Target: the import under 10 s.

Autocomplete is then measured as bench/api_bench.py measures it, through a
live daphne on this database (`GET /api/tags`), in blocks alternating with
its floor (`GET /api/auth/me`): prefixes, and word starts (a word inside the
names: `hair` → `long hair`, `long h` → `very long hair`). Target: p99 within
2× the floor's p99, the API bench's target for autocomplete.

    PYTHONPATH=. .venv/bin/python bench/vocabulary_bench.py [--rows N] [--requests N]
"""

import argparse
import os
import random
import string
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
DB_PATH = OUT / "vocabulary.sqlite3"
GENERATION = "danbooru-shape-v3"
TYPES = ["1"] * 42 + ["4"] * 29 + ["0"] * 22 + ["3"] * 7  # danbooru.csv's shares, ~0.3% meta
# danbooru.csv: 2.1 words and 14 characters a name on average, 111 at most.
WORDS_PER_NAME = [1] * 40 + [2] * 35 + [3] * 15 + [4] * 6 + [6] * 3 + [8] * 1
HASH_NAMES = ["#compass", "#b7282e", "#unicus_(idolmaster)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=140_782)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB_PATH}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    csv_path = generate_csv(args.rows)
    report = run(csv_path)
    report |= autocomplete_through_the_server(csv_path, args.requests)
    print_table(args.rows, csv_path, report)


def generate_csv(rows: int) -> Path:
    """A deterministic vocabulary shaped like danbooru.csv (see the module docstring)."""
    path = OUT / f"vocabulary-{GENERATION}-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(6)
    series = [random_name(rng, 1, 2) for _ in range(2_000)]
    names: dict[str, None] = dict.fromkeys(HASH_NAMES[: min(3, rows)])
    common = ["hair", "long", "very", "eyes", "shirt", "black", "holding", "open"]
    while len(names) < rows:
        words = [random_word(rng) for _ in range(rng.choice(WORDS_PER_NAME))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words) + 1), rng.choice(common))
        name = "_".join(words)
        if rng.random() < 0.2:
            name += f"_({rng.choice(series)})"
        names[name[:110]] = None
    ordered = sorted(names, key=lambda _: rng.random())
    with_aliases = set(rng.sample(range(rows), min(rows, rows * 19_300 // 140_782)))
    with path.open("w", encoding="utf-8") as file:
        for rank, name in enumerate(ordered, start=1):
            aliases = ""
            if rank - 1 in with_aliases:
                count = rng.choice([1, 1, 1, 1, 2, 2, 3])
                aliases = ",".join(f"{name}_{random_word(rng)}" for _ in range(count))
            file.write(f'{name},{rng.choice(TYPES)},{6_000_000 // rank},"{aliases}"\n')
    return path


def random_word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))


def random_name(rng: random.Random, low: int, high: int) -> str:
    return "_".join(random_word(rng) for _ in range(rng.randint(low, high)))


def run(csv_path: Path) -> dict[str, float | str]:
    from django.db import connection, transaction

    from tags.models import Tag, TagAlias, TagWord
    from tags.vocabulary import read_vocabulary

    report: dict[str, float | str] = {}
    seed_tags()
    started = time.perf_counter()
    vocabulary = read_vocabulary(csv_path.read_bytes())
    report["parse only (read_vocabulary)"] = time.perf_counter() - started

    tags = [(row.name, row.category, row.count) for row in vocabulary.rows]
    aliases = [(alias, row.name) for row in vocabulary.rows for alias in row.aliases]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_tags (name varchar(200) PRIMARY KEY, "
            "category varchar(16), popularity bigint)"
        )
        cursor.execute("CREATE TABLE bench_aliases (name varchar(200) PRIMARY KEY, tag text)")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany("INSERT INTO bench_tags VALUES (%s, %s, %s)", tags)
        cursor.executemany("INSERT OR IGNORE INTO bench_aliases VALUES (%s, %s)", aliases)
    report["baseline: raw executemany, same rows"] = time.perf_counter() - started

    report["import_vocabulary (empty vocabulary)"] = timed_command(csv_path)
    report["import_vocabulary again (all unchanged)"] = timed_command(csv_path)
    report["rows in the file / aliases in it"] = f"{len(tags):,} / {len(aliases):,}"
    report["tags / aliases / word starts stored"] = (
        f"{Tag.objects.count():,} / {TagAlias.objects.count():,} / {TagWord.objects.count():,}"
    )
    hashed = Tag.objects.filter(name__startswith="#").count()
    report["# names imported as tags"] = f"{hashed} of {len(HASH_NAMES)}"
    return report


def timed_command(csv_path: Path) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        call_command("import_vocabulary", str(csv_path), "--json", stdout=sink)
    return time.perf_counter() - started


def seed_tags() -> None:
    """A dataset's own tags before the vocabulary: 5,000 tags with image counts."""
    from tags.models import Tag

    rng = random.Random(2)
    names = {random_word(rng) for _ in range(5_000)}
    Tag.objects.bulk_create(Tag(name=name, image_count=rng.randint(0, 500)) for name in names)


def autocomplete_through_the_server(csv_path: Path, requests: int) -> dict[str, float | str]:
    """Prefix and word-start autocomplete through daphne, each against the floor's p99."""
    import api_bench  # bench/ is this script's folder

    make_bench_token(api_bench.SECRET)
    rng = random.Random(3)
    names = [line.split(",", 1)[0].replace("_", " ") for line in csv_path.open(encoding="utf-8")]
    prefixes = [rng.choice(names)[: rng.randint(1, 3)] for _ in range(requests)]
    words = []
    for name in rng.sample([name for name in names if " " in name], requests):
        word = rng.choice(name.split(" ")[1:])
        words.append(word[: rng.randint(2, 5)])
    api_bench.SERVER_DB = DB_PATH  # start_server serves the database SERVER_DB names
    port = api_bench.free_port()
    server = api_bench.start_server(port)
    report: dict[str, float | str] = {}
    try:
        client = api_bench.Client(port)
        for _ in range(20):  # warm up: imports, connections, caches
            client.request("GET", api_bench.FLOOR)
            client.request("GET", "/api/tags?prefix=ba&limit=10")
        floors: list[float] = []
        for label, typed in (("prefix, 1-3 letters", prefixes), ("word start", words)):
            paths = [f"/api/tags?prefix={quote(p)}&limit=10" for p in typed]
            measured, floor = client.times(paths)
            floors += floor
            median, p99 = api_bench.summary(measured)
            limit = 2 * api_bench.summary(floor)[1]
            verdict = "met" if p99 <= limit else "MISSED"
            report[f"autocomplete, {label}"] = (
                f"p50 {median:.2f}, p99 {p99:.2f} ms; ≤ 2× floor: {verdict} ({limit:.2f})"
            )
        median, p99 = api_bench.summary(floors)
        report[f"floor: GET {api_bench.FLOOR}"] = f"p50 {median:.2f}, p99 {p99:.2f} ms"
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report


def make_bench_token(secret: str) -> None:
    """The account and token that api_bench.Client sends."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiToken
    from accounts.services import hash_token

    user = get_user_model().objects.create(username="bench", is_staff=True, is_superuser=True)
    ApiToken.objects.create(user=user, name="b", token_hash=hash_token(secret))


def print_table(rows: int, csv_path: Path, report: dict[str, float | str]) -> None:
    where = DB_PATH.relative_to(ROOT)
    print(f"\nimport_vocabulary, {rows:,} rows ({csv_path.name}), SQLite file {where}")
    print(f"| {'step':<42} | {'result':>60} |")
    print(f"| {'-' * 42} | {'-' * 60}:|")
    for step, value in report.items():
        shown = f"{value:.2f} s" if isinstance(value, float) else value
        print(f"| {step:<42} | {shown:>60} |")
    baseline = report["baseline: raw executemany, same rows"]
    full = report["import_vocabulary (empty vocabulary)"]
    assert isinstance(baseline, float) and isinstance(full, float)
    verdict = "met" if full < 10 else "MISSED"
    print(
        f"\nimport / raw-insert baseline: {full / baseline:.1f}×; target import < 10 s: {verdict}"
    )


if __name__ == "__main__":
    main()
