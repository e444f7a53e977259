"""What the project's management commands share."""

from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand


class DocumentedCommand(BaseCommand):
    """A command whose long help keeps its paragraphs as written."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)
