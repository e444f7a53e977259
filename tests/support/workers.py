"""Real `manage.py serve` workers on free loopback ports, sharing the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at this run's test database."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    auth = f"{user}:{params['PASSWORD']}" if params.get("PASSWORD") else user
    host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{params['NAME']}"


class Worker:
    def __init__(self, port: int, process: subprocess.Popen) -> None:
        self.port, self.process = port, process

    def url(self, session_id: int) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}/"

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, then the exit code (killing it if it overstays)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_worker(*, redis_url: str | None = None, log: Path | None = None, **env: str) -> Worker:
    """Start a worker and wait until it accepts connections; its output goes to `log` if given."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "tagger_project.settings",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    full_env.pop("REDIS_URL", None)
    if redis_url:
        full_env["REDIS_URL"] = redis_url
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=full_env,
        stdout=output,
        stderr=output if log else None,
    )
    if log:
        output.close()
    wait_listening(process, port, what="worker")
    return Worker(port, process)


def wait_listening(process: subprocess.Popen, port: int, *, what: str, timeout: float = 30) -> None:
    """Return once `process` accepts connections on `port`; kill it and raise if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} did not start listening")


@contextmanager
def workers(count: int, **kwargs):
    """`count` workers, stopped (SIGTERM, then kill) when the block ends."""
    started: list[Worker] = []
    try:
        for _ in range(count):
            started.append(start_worker(**kwargs))
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
