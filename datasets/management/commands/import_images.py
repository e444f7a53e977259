"""Import image files and folders into a tagging session (thin: the work is in the pipeline)."""

import json
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from django.core.checks import Tags
from django.core.management.base import CommandError

from datasets.importing_pipeline import ImportInterrupted, candidate_files, import_files
from sessions_app.commands import session_and_actor
from tagger_project.commands import DocumentedCommand

HELP = """Import image files and folders into a tagging session.

Folders are walked recursively in sorted order; hidden files and folders are
passed over. Files are recognized by content, not extension; a file that is
not an acceptable image (empty, truncated, not an image, too large, a
decompression bomb) is skipped with the reason and the rest goes on. Caption
files beside an image (name.txt or name.caption) become its tags in order
(source "caption"); without one, the embedded prompt's tokens do (source
"prompt"). .txt, .caption and .json files are sidecars, never imported alone.

kohya repeat folders: an image directly inside a folder named
<repeats>_<name> below a PATH (PATH/10_ohwx/x.png) joins the session's subset
"ohwx" with 10 repeats (created if missing; class tokens "ohwx"), as
sd-scripts reads such folders. Same file names in different folders stay
apart: each exports back into its own folder. The same content in two
folders is one image of the session, in the first folder's subset (said on
stderr).

Counts: "imported" = images that joined the session; "duplicates" = files
whose content the session already held (an earlier file of this run or a
previous run: their caption tags are merged). Killed at any point and run
again with the same arguments, the import finishes: what the first run
committed is counted as duplicates, the rest as imported.

--json prints one object {"imported": N, "duplicates": N, "skipped":
[{"path": ..., "reason": ...}]} on stdout; the progress bar and warnings about
caption tokens that are not valid tag names go to stderr.
"""


class Command(DocumentedCommand):
    help = HELP
    # Not the URL checks: they import the whole web API (~0.35 CPU-s, as much
    # as importing 100 images) for a command that serves no URL.
    requires_system_checks = [Tags.models, Tags.database, Tags.security, Tags.files]

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
        parser.add_argument("--session", required=True, metavar="NAME", help="session name")
        parser.add_argument(
            "--owner",
            metavar="USER",
            help="create the session for this user if it does not exist; acts as the importer",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            metavar="N",
            help="worker processes that decode and store files (default: the number of cores)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        roots = [Path(p) for p in options["paths"]]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        session, actor = session_and_actor(options["session"], options["owner"])
        files = candidate_files(roots)
        try:
            with self.progress_bar(len(files)) as bar:
                report = import_files(
                    session,
                    actor=actor,
                    files=files,
                    workers=options["workers"],
                    on_file=bar.update,
                    roots=roots,
                )
        except (KeyboardInterrupt, ImportInterrupted):
            # Every committed image is whole: the same command picks up from here.
            raise CommandError("interrupted; run the same command again to finish") from None
        except BrokenProcessPool:
            raise CommandError(
                "a worker process died (killed, or out of memory);"
                " run the same command again to finish"
            ) from None
        for path, token, reason in report.skipped_tags:
            self.stderr.write(f"{path}: tag {token!r} skipped: {reason}")
        for path, folder in report.kept_apart:
            self.stderr.write(f"{path}: the same image is in {folder}/; it stays there")
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        self.stdout.write(
            f"Imported {report.imported}, duplicates {report.duplicates}, "
            f"skipped {len(report.skipped)} into session {session.name!r}."
        )
        for skipped in report.skipped:
            self.stdout.write(f"  skipped {skipped['path']}: {skipped['reason']}")
