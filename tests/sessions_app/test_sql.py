"""sessions_app writes raw SQL in one module (sql.py), and the tag writer's version bump."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "sessions_app"
ALLOWED = {APP / "sql.py", APP / "services" / "tag_writer.py"}
RAW = re.compile(r"\.cursor\(|\.raw\(|RawSQL\(|\.extra\(")


def test_raw_sql_lives_in_the_sql_module():
    sources = [path for path in APP.rglob("*.py") if "migrations" not in path.parts]
    assert APP / "sql.py" in sources
    offenders = [
        str(p.relative_to(REPO)) for p in sources if p not in ALLOWED and RAW.search(p.read_text())
    ]
    assert offenders == []
    assert all(RAW.search(path.read_text()) for path in ALLOWED)
