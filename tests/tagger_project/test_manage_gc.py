"""manage.py turns the garbage collector off for start-up only."""

import os
import subprocess
import sys

from django.conf import settings


def test_a_command_runs_with_the_collector_on_and_start_up_frozen():
    # Left off, a server started by manage.py would never free a reference cycle.
    probe = "import gc; print(gc.isenabled(), gc.get_freeze_count() > 0)"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", probe],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tagger_project.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True True"
