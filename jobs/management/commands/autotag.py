"""Auto-tag a session's images with a WD14-family tagger, as a job followed to its end."""

import signal
import time

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from jobs.models import Job, JobState
from jobs.selectors import job_shape, worker_up
from jobs.services import autotag_enqueue, job_cancel
from jobs.worker import Worker, new_worker_id
from sessions_app.commands import session_named
from sessions_app.selectors import session_image_ids
from sessions_app.services.autotag import AutotagMode, autotag_options
from tagger_project.commands import DocumentedCommand
from tagger_project.errors import DomainError

HELP = """Auto-tag the images of SESSION with the tagger model NAME (a folder of TAGGER_MODELS_DIR).

The job is queued like one started in the browser, so everyone in the
session sees its bar, and followed here with a progress bar. When no worker
is up (none has reported within 15 s) this command runs the job itself.
Ctrl+C cancels the job. Tags above the thresholds are added with source
`autotagger`; with --suggest, scores between it and the thresholds become
suggestions, which the workspace accepts or dismisses. The tags are applied
chunk by chunk, as one operation of the session's log: one undo takes the
whole job back.
"""

POLL_S = 0.5


class Command(DocumentedCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("session", metavar="SESSION", help="session name")
        parser.add_argument("--owner", metavar="USER", help="the session's owner, when names clash")
        parser.add_argument("--model", required=True, metavar="NAME")
        parser.add_argument("--as", dest="actor", metavar="USER", help="who acts (default: owner)")
        parser.add_argument("-q", "--query", default="", help="only images matching this filter")
        parser.add_argument("--mode", choices=[m.value for m in AutotagMode], default="append")
        parser.add_argument("--general-threshold", type=float, default=0.35)
        parser.add_argument("--character-threshold", type=float, default=0.85)
        parser.add_argument("--suggest", type=float, metavar="THRESHOLD", default=None)
        parser.add_argument("--general-mcut", action="store_true")
        parser.add_argument("--character-mcut", action="store_true")
        parser.add_argument("--rating", action="store_true", help="add the rating as a tag")
        parser.add_argument("--exclude", action="append", default=[], metavar="TAG")
        parser.add_argument("--max-tags", type=int, default=None)

    def handle(self, *args, **opts):
        session, actor = self._session_and_actor(opts)
        try:
            options = autotag_options(
                mode=opts["mode"],
                general_threshold=opts["general_threshold"],
                character_threshold=opts["character_threshold"],
                suggest_threshold=opts["suggest"],
                general_mcut=opts["general_mcut"],
                character_mcut=opts["character_mcut"],
                include_rating=opts["rating"],
                exclude=opts["exclude"],
                max_tags=opts["max_tags"],
            )
            image_ids = session_image_ids(session, query=opts["query"])
            job = autotag_enqueue(
                session, actor=actor, image_ids=image_ids, model=opts["model"], options=options
            ).value
        except DomainError as error:
            raise CommandError(error.message) from error
        job = self._follow(job)
        shape = job_shape(job)
        if job.state != JobState.DONE:
            raise CommandError(f"job {job.pk} {job.state}: {job.error or 'see the admin'}")
        result = shape["result"]
        self.stdout.write(
            f"job {job.pk} done: {result.get('changed', 0)} images changed,"
            f" {result.get('tags_added', 0)} tags and"
            f" {result.get('suggestions_added', 0)} suggestions added"
            f" ({job.inferred} run through the model, {shape['failed']} unreadable)"
        )

    def _session_and_actor(self, opts):
        users = get_user_model().objects
        owner = users.filter(username=opts["owner"]).first() if opts["owner"] else None
        if opts["owner"] and owner is None:
            raise CommandError(f"no user called {opts['owner']!r} (--owner)")
        session = session_named(opts["session"], owner)
        if session is None:
            raise CommandError(f"no session called {opts['session']!r}")
        actor = session.owner
        if opts["actor"]:
            actor = users.filter(username=opts["actor"]).first()
            if actor is None:
                raise CommandError(f"no user called {opts['actor']!r} (--as)")
        return session, actor

    def _follow(self, job: Job) -> Job:
        """Show the job's progress to its end, running it here when no worker is up."""
        interrupted: list[bool] = []
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        bar = self.progress_bar(job.total)

        def progress(row: Job) -> Job:
            bar.update(row.done - bar.n)
            if interrupted and not row.cancel_requested and not row.finished:
                # Between chunks, in this thread: the signal handler only takes note.
                row = job_cancel(row, actor=row.created_by).value
            return row

        try:
            if not worker_up():
                self.stderr.write("no worker is up: running the job in this process")
                worker = Worker(worker_id=new_worker_id(":autotag"), on_progress=progress)
                worker.run_once(job.pk)
            while True:
                job.refresh_from_db()
                job = progress(job)
                if job.finished:
                    return job
                time.sleep(POLL_S)
        finally:
            bar.close()
            signal.signal(signal.SIGINT, previous)
