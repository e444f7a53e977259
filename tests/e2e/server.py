"""A real Tagger worker (`manage.py serve`) in a subprocess, on the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.workers import ROOT as REPO
from tests.support.workers import free_port, test_database_url


class LiveServer:
    """Start, stop and restart one worker on a fixed loopback port."""

    def __init__(self, *, media_root: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "MEDIA_ROOT": str(media_root),
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it until it exits)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not listen within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (the graceful path the clients must survive), then kill if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()
