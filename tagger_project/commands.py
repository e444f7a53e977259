"""What the project's management commands share."""

import sys
from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand
from tqdm import tqdm


class _Bar(tqdm):
    # No monitor thread (it only retunes a stalled bar): import_images forks
    # its workers, and the fewer threads a process has when it forks, the better.
    monitor_interval = 0


class DocumentedCommand(BaseCommand):
    """A command whose long help keeps its paragraphs as written."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def progress_bar(self, total: int) -> tqdm:
        """A bar counting images on stderr, for the command's long loop."""
        # tqdm writes carriage returns itself: give it the raw stream, not Django's wrapper.
        stream = getattr(self.stderr, "_out", sys.stderr)
        return _Bar(total=total, unit="img", file=stream, mininterval=0.2)
