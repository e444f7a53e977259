"""Import a dataset (Tagger JSON, kohya metadata JSON, JSON Lines, hydrus) into a session."""

import json
from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import CommandError
from django.db import transaction

from datasets.importing_formats import (
    CAPTION_EXTENSIONS,
    FORMATS,
    FormatError,
    open_dataset,
)
from datasets.services import dataset_import
from sessions_app.commands import session_and_actor, session_named
from tagger_project.commands import DocumentedCommand
from tagger_project.errors import DomainError

HELP = """Import a dataset into a tagging session.

PATH is what `export_dataset` writes (a folder or a .zip) or what the other
tools lay out: the metadata file itself (the images are the files beside it),
the folder holding it, or a zip of that folder.

  json        tagger.json, Tagger's own backup: images in session order
              with their tags (order, categories, sources, confidences),
              written captions, statuses and file names; the session's
              settings, rules and members (by user name: a user missing
              here is reported, not created); the tags' categories,
              popularity, aliases and implications. Checked whole first
              and restored in one transaction: a malformed document, or
              one whose rules cannot hold, changes nothing.
  kohya-json  metadata.json {"<image>": {"tags": "a, b", "caption": ...}};
              keys are image stems or paths.
  jsonl       metadata.jsonl, one {"file_name", "tags" | "text"} per line.
  hydrus      image.jpg.txt beside each image, one tag per line;
              character:, creator:/artist:, series:/copyright:, meta:
              namespaces give the category.
  kohya       name.txt (or name.caption: --caption-extension) beside each
              image, tags separated by commas or newlines; further caption
              lines are kept as alternate captions in the image's metadata;
              an AUTOMATIC1111 infotext .txt is read as generation metadata.

Without --format the format is guessed from the metadata file. Image files
pass the same checks and storage as import_images. Caption formats merge
their tags like caption files (source "caption"); a caption that starts with
the session's trigger word loses it (export puts it there). Counts are those
of import_images; "problems" lists what was not imported as it stood (an
empty caption, an invalid tag, an alias that clashes), while "skipped" lists
images not imported at all (with why). Run again after fixing: images already
in the session count as duplicates and their tags are merged.
"""


class Command(DocumentedCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", help="folder, zip or metadata file")
        parser.add_argument("--session", required=True, metavar="NAME", help="session name")
        parser.add_argument("--format", choices=FORMATS, dest="fmt", help="default: guessed")
        parser.add_argument(
            "--caption-extension",
            action="append",
            dest="caption_extensions",
            metavar="EXT",
            help="kohya: caption file extensions to try, in order (default: .txt, then .caption)",
        )
        parser.add_argument(
            "--owner", metavar="USER", help="create the session for this user if it is missing"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print one JSON object"
        )

    def handle(self, *args, path: str, session: str, fmt, owner, as_json: bool, **options):
        extensions = (
            tuple(
                ext if ext.startswith(".") else f".{ext}"
                for ext in options["caption_extensions"] or ()
            )
            or CAPTION_EXTENSIONS
        )
        if owner is None and session_named(session) is None:
            raise CommandError(f"no session called {session!r}; pass --owner USER to create it")
        try:
            # Read (and refuse) the dataset before creating anything.
            opened = open_dataset(Path(path), fmt, caption_extensions=extensions)
        except (FormatError, OSError) as error:
            raise CommandError(getattr(error, "reason", None) or str(error)) from None
        # A backup restores whole or not at all, the session it creates included.
        whole = transaction.atomic() if opened.format == "json" else nullcontext()
        try:
            with whole:
                tagging_session, actor = session_and_actor(session, owner)
                with self.progress_bar(len(opened.dataset.images)) as bar:
                    report = dataset_import(
                        tagging_session, actor=actor, opened=opened, on_image=bar.update
                    ).value
        except DomainError as error:
            raise CommandError(f"{error.message}; nothing imported") from None
        finally:
            opened.source.close()
        if as_json:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        self.stdout.write(
            f"{report.format}: imported {report.imported}, duplicates {report.duplicates}, "
            f"skipped {len(report.skipped)} into session {tagging_session.name!r}."
        )
        for skipped in report.skipped:
            self.stdout.write(f"  skipped {skipped['path']}: {skipped['reason']}")
        for problem in report.problems:
            self.stderr.write(f"  {problem['path']}: {problem['reason']}")
