"""The session permission check: the raw read it makes against its ORM equivalents.

Every request to a session's images asks `role_of` (sessions_app/permissions.py),
which reads the caller's role with one raw statement (sessions_app.sql.member_role).
This measures that read against the ORM forms of the same query, on a migrated
SQLite database with 1,000 sessions × 4 members, one warm connection, in the
same run. The floor is `SELECT 1` on the same connection: what any read costs
before it reads anything. Each form runs in blocks of 200 calls, alternating
with the others, so a burst of noise on a shared machine lands on all of them.

    PYTHONPATH=. .venv/bin/python bench/permission_bench.py [--calls 5000]
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = ROOT / "var" / "bench" / "permission.sqlite3"
SESSIONS, MEMBERS = 1000, 4
BLOCK = 200


def setup() -> tuple[int, int]:
    """A fresh migrated database with sessions and members; (session id, user id) to ask."""
    DB.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
    # As the API bench's server runs: DEBUG on would also time the query log.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from sessions_app.models import SessionMember, TaggingSession

    call_command("migrate", verbosity=0, interactive=False)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"user{i}") for i in range(MEMBERS)]
    )
    sessions = TaggingSession.objects.bulk_create(
        [TaggingSession(name=f"s{i}", owner=users[0]) for i in range(SESSIONS)]
    )
    SessionMember.objects.bulk_create(
        [
            SessionMember(session=session, user=user, role="owner" if i == 0 else "editor")
            for session in sessions
            for i, user in enumerate(users)
        ]
    )
    return sessions[SESSIONS // 2].pk, users[2].pk


def forms(session_id: int, user_id: int) -> dict[str, Callable[[], object]]:
    from django.db import connection

    from sessions_app.models import SessionMember
    from sessions_app.sql import member_role

    members = SessionMember.objects

    def floor() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()

    return {
        "floor: SELECT 1 on the same connection": floor,
        "raw (member_role, in use)": lambda: member_role(session_id, user_id),
        "ORM .values_list().first()": lambda: (
            members.filter(session_id=session_id, user_id=user_id)
            .values_list("role", flat=True)
            .first()
        ),
        "ORM .order_by() [:1]": lambda: list(
            members.filter(session_id=session_id, user_id=user_id)
            .order_by()
            .values_list("role", flat=True)[:1]
        ),
    }


def measure(calls: dict[str, Callable[[], object]], total: int) -> dict[str, list[float]]:
    """Microseconds per call, each form's blocks interleaved with the others'."""
    for call in calls.values():  # warm: the connection, Django's query machinery
        for _ in range(50):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(1, total // BLOCK)):
        for name, call in calls.items():
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - started) * 1e6)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    session_id, user_id = setup()
    calls = forms(session_id, user_id)
    answers = {name: call() for name, call in calls.items() if not name.startswith("floor")}
    assert len({repr(a).strip("[]'\"") for a in answers.values()}) == 1, answers
    times = measure(calls, args.calls)
    floor = statistics.median(next(iter(times.values())))
    print(
        f"\nrole_of's read, SQLite, {SESSIONS:,} sessions × {MEMBERS} members, "
        f"{args.calls:,} calls each (blocks of {BLOCK}, interleaved)\n"
    )
    print(f"| {'form':<40} | {'median µs':>9} | {'p99 µs':>8} | {'over floor':>10}")
    print(f"| {'-' * 40} | {'-' * 9} | {'-' * 8} | {'-' * 10}")
    for name, samples in times.items():
        median = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        print(f"| {name:<40} | {median:>9.1f} | {p99:>8.1f} | {median - floor:>10.1f}")


if __name__ == "__main__":
    main()
