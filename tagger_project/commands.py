"""What the project's management commands share."""

import gc
import sys
from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand
from tqdm import tqdm


class DocumentedCommand(BaseCommand):
    """A command whose long help keeps its paragraphs as written."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def execute(self, *args, **options):
        # What start-up made (modules, models, settings) lives until the process
        # ends: freezing it keeps it out of every later collection, the long
        # loop's and the full one at exit (~0.09 s after a 330-image import).
        gc.freeze()
        return super().execute(*args, **options)

    def progress_bar(self, total: int) -> tqdm:
        """A bar counting images on stderr, for the command's long loop."""
        # tqdm writes carriage returns itself: give it the raw stream, not Django's wrapper.
        stream = getattr(self.stderr, "_out", sys.stderr)
        return tqdm(total=total, unit="img", file=stream, mininterval=0.2)
