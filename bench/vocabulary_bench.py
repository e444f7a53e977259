"""Time `import_vocabulary` of a generated 100,000-row tagcomplete CSV, and autocomplete around it.

Runs against a fresh SQLite file under var/bench/ (never the development
database). Baselines from the same run: parsing alone, and a raw
`executemany` of the same (name, category, count) rows into a scratch table,
the floor for getting 100,000 rows into this database at all.

    PYTHONPATH=. .venv/bin/python bench/vocabulary_bench.py [--rows N]
"""

import argparse
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
DB_PATH = OUT / "vocabulary.sqlite3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
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
    print_table(args.rows, report)


def generate_csv(rows: int) -> Path:
    """A deterministic vocabulary shaped like danbooru's: Zipf counts, some aliases."""
    path = OUT / f"vocabulary-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(6)
    names: set[str] = set()
    while len(names) < rows:
        words = rng.randint(1, 3)
        names.add("_".join(random_word(rng) for _ in range(words)))
    types = ["0"] * 70 + ["1"] * 12 + ["3"] * 4 + ["4"] * 12 + ["5"] * 2
    with path.open("w", encoding="utf-8") as file:
        file.write("name,type,count,aliases\n")
        for rank, name in enumerate(sorted(names, key=lambda _: rng.random()), start=1):
            aliases = ",".join(f"{name}_alias{i}" for i in range(rng.choice([0, 0, 0, 1, 2])))
            file.write(f'{name},{rng.choice(types)},{5_000_000 // rank},"{aliases}"\n')
    return path


def random_word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))


def run(csv_path: Path) -> dict[str, float | str]:
    from django.db import connection, transaction

    from tags.models import Tag, TagAlias
    from tags.vocabulary import read_vocabulary

    report: dict[str, float | str] = {}
    seed_tags()
    report["autocomplete before"] = autocomplete_latencies()
    started = time.perf_counter()
    vocabulary = read_vocabulary(csv_path.read_bytes())
    report["parse only (read_vocabulary)"] = time.perf_counter() - started

    rows = [(row.name, row.category, row.count) for row in vocabulary.rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_scratch (name varchar(200) PRIMARY KEY, "
            "category varchar(16), popularity bigint)"
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany("INSERT INTO bench_scratch VALUES (%s, %s, %s)", rows)
    report["baseline: raw executemany, same rows"] = time.perf_counter() - started

    report["import_vocabulary (empty tags)"] = timed_command(csv_path)
    report["import_vocabulary again (all unchanged)"] = timed_command(csv_path)
    report["autocomplete after"] = autocomplete_latencies()
    report["tags / aliases"] = f"{Tag.objects.count():,} / {TagAlias.objects.count():,}"
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


def autocomplete_latencies() -> str:
    """p50 / p99 of tags_complete (the API's read) over 1-, 2- and 3-letter prefixes (limit 10)."""
    from tags.autocomplete import tags_complete

    rng = random.Random(3)
    prefixes = [random_word(rng)[: rng.randint(1, 3)] for _ in range(600)]
    timings = []
    for prefix in prefixes:
        started = time.perf_counter()
        tags_complete(prefix=prefix, category=None, limit=10)
        timings.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[98]
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def print_table(rows: int, report: dict[str, float | str]) -> None:
    print(f"\nimport_vocabulary, {rows:,} rows, SQLite file {DB_PATH.relative_to(ROOT)}")
    print(f"| {'step':<42} | {'result':>30} |")
    print(f"| {'-' * 42} | {'-' * 30}:|")
    for step, value in report.items():
        shown = f"{value:.2f} s" if isinstance(value, float) else value
        print(f"| {step:<42} | {shown:>30} |")
    baseline = report["baseline: raw executemany, same rows"]
    full = report["import_vocabulary (empty tags)"]
    print(f"\nimport / raw-insert baseline: {full / baseline:.1f}×; target: import < 10 s")


if __name__ == "__main__":
    main()
