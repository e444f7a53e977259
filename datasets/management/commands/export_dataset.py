"""Export a tagging session as a dataset (thin: the work is in datasets.exporting)."""

import json
from argparse import BooleanOptionalAction
from pathlib import Path

from django.core.management.base import CommandError

from datasets.exporting import FORMATS, ExportOptions, ExportReport, export_to_path
from datasets.exporting.base import CAPTION_SOURCES
from sessions_app.commands import session_named
from sessions_app.models import ImageStatus, TaggingSession
from tagger_project.commands import DocumentedCommand
from tagger_project.errors import DomainError

HELP = """Export a tagging session as a dataset: a folder, or a zip when PATH ends in .zip.

Formats: kohya (image + name.txt caption + dataset_config.toml), kohya-json
(images + metadata.json), jsonl (images + metadata.jsonl), hydrus (image +
image.ext.txt, one namespaced tag per line), json (images + tagger.json,
Tagger's own document, which import_dataset --format json restores).

Captions follow the session's settings (trigger word first, separator,
underscores, escaping) unless an option overrides them. Image names keep the
original names where they are safe and unique; the others are renamed and
listed. An existing non-empty folder or an existing zip is refused unless
--force is given (files in the folder with other names are left alone).
"""


class Command(DocumentedCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("session", metavar="SESSION", help="session name (or id)")
        parser.add_argument("--out", required=True, metavar="PATH", help="folder, or file.zip")
        parser.add_argument("--format", default="kohya", choices=sorted(FORMATS))
        parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
        parser.add_argument("--trigger-word", metavar="WORD", help="instead of the session's")
        parser.add_argument("--separator", metavar="TEXT", help="instead of the session's")
        parser.add_argument("--underscores", action=BooleanOptionalAction, default=None)
        parser.add_argument("--escape", action=BooleanOptionalAction, default=None)
        parser.add_argument(
            "--pin", action="append", default=[], metavar="TAG", help="tag kept first (repeat)"
        )
        parser.add_argument(
            "--keep-tokens-separator",
            action="store_true",
            help="write 'head ||| rest' captions for kohya's keep_tokens_separator",
        )
        parser.add_argument(
            "--image-dir",
            metavar="PATH",
            help="kohya dataset_config.toml's image_dir (default: the folder's absolute path; "
            "'.' in a zip, read from the trainer's working directory)",
        )
        parser.add_argument(
            "--caption-source",
            choices=CAPTION_SOURCES,
            default=None,
            help="what a caption holds: the written caption where an image has one, else its "
            "tags (auto); only the tags; only the text; the tags, then the text (both); or "
            "the tags in name.txt and the text in name.caption (files). Default: as the "
            "session's dataset came in",
        )
        parser.add_argument(
            "--no-images", action="store_true", help="write the captions or metadata only"
        )
        parser.add_argument(
            "--status",
            action="append",
            default=[],
            choices=ImageStatus.values,
            help="only images with this status (repeat)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        session = self._session(options["session"])
        out = Path(options["out"])
        self._refuse_overwrite(out, force=options["force"])
        export_options = ExportOptions(
            trigger_word=options["trigger_word"],
            separator=options["separator"],
            use_underscores=options["underscores"],
            escape_parentheses=options["escape"],
            pinned=tuple(options["pin"]),
            keep_tokens_separator=options["keep_tokens_separator"],
            include_images=not options["no_images"],
            statuses=tuple(options["status"]),
            image_dir=options["image_dir"],
            caption_source=options["caption_source"],
        )
        total = session.entries.filter(status__in=export_options.statuses or ImageStatus.values)
        with self.progress_bar(total.count()) as bar:
            report = ExportReport(on_image=bar.update)
            try:
                export_to_path(session, options["format"], out, export_options, report)
            except DomainError as error:
                raise CommandError(error.message) from error
        self._print_report(report, session, out, options)

    def _session(self, key: str) -> TaggingSession:
        session = session_named(key, hint="give the session's id instead")
        if session is None and key.isdigit():
            session = TaggingSession.objects.filter(pk=int(key)).first()
        if session is None:
            raise CommandError(f"no session called {key!r}")
        return session

    def _refuse_overwrite(self, out: Path, *, force: bool) -> None:
        if out.suffix.lower() == ".zip":
            if out.is_dir():
                raise CommandError(f"{out} is a folder, not a zip file")
            if out.exists() and not force:
                raise CommandError(f"{out} exists; use --force to replace it")
            if not out.parent.is_dir():
                raise CommandError(f"no such folder: {out.parent}")
            return
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise CommandError(f"{out} is not empty; use --force to write into it")

    def _print_report(self, report: ExportReport, session, out: Path, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
            return
        self.stdout.write(
            f"Exported {report.images} images of {session.name!r} to {out} "
            f"(format {options['format']})."
        )
        for item in report.renamed:
            self.stdout.write(f"  renamed {item.original!r} -> {item.exported} ({item.reason})")
        for name in report.missing:
            self.stderr.write(f"  missing stored file, not exported: {name!r}")
        for note in report.notes:
            self.stderr.write(f"  note: {note}")
