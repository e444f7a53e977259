"""Run a background job worker (thin: the loop is jobs.worker.Worker)."""

import signal

from jobs.worker import Worker
from tagger_project.commands import DocumentedCommand

HELP = """Take background jobs (auto-tagging) from the database queue and run them.

Start one per machine that should do the work; `serve` runs one of its own
unless TAGGER_WORKER_IN_SERVER=false. On SIGTERM or SIGINT the worker
finishes the chunk in hand and gives the job back, so another worker carries
on at once; a worker killed outright leaves its job to be resumed when its
lease (TAGGER_JOB_LEASE_S) has run out. With the in-memory channel layer a
worker in another process cannot reach the browsers: set REDIS_URL, or let
`serve` run the jobs.
"""


class Command(DocumentedCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument(
            "--worker-id", help="a name unique among the workers (default host:pid)"
        )
        parser.add_argument("--until-idle", action="store_true", help="exit once no job is waiting")

    def handle(self, *args, worker_id, until_idle, **options):
        worker = Worker(worker_id=worker_id)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stop.set())
        self.stdout.write(f"worker {worker.worker_id} waiting for jobs")
        self.stdout.flush()
        worker.run(until_idle=until_idle)
        self.stdout.write(f"worker {worker.worker_id} stopped")
