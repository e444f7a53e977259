"""`import_vocabulary FILE`: load a tagcomplete-style CSV so autocomplete knows the vocabulary."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tags.services import vocabulary_import
from tags.vocabulary import read_vocabulary

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = (
        "Import a tag vocabulary in the a1111-tagcomplete CSV shape: "
        'name,type,count,"alias1,alias2" '
        "(danbooru types 0 general, 1 artist, 3 copyright, 4 character, 5 meta). Existing tags get "
        "their category and popularity updated; rows that cannot be imported are listed by line."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print one JSON object"
        )

    def handle(self, *args, file: str, as_json: bool, **options):
        path = Path(file)
        try:
            with path.open("rb") as handle, _progress(path, quiet=as_json) as bar:
                vocabulary = read_vocabulary(_counted(handle, bar))
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror or error}") from None
        result = vocabulary_import(vocabulary.rows)
        result.problems = sorted(vocabulary.problems + result.problems, key=lambda p: p.line)
        if as_json:
            self.stdout.write(
                json.dumps({"rows": len(vocabulary.rows), **result.as_dict()}, ensure_ascii=False)
            )
            return
        self.stdout.write(
            f"{len(vocabulary.rows)} rows: {result.created} tags created, {result.updated} "
            f"updated, {result.unchanged} unchanged, {result.aliases_created} aliases created"
            + (
                f", {result.tags_replaced_by_aliases} unused tags turned into aliases"
                if result.tags_replaced_by_aliases
                else ""
            )
        )
        for problem in result.problems[:SHOWN_PROBLEMS]:
            self.stderr.write(f"line {problem.line}: {problem.reason}")
        if len(result.problems) > SHOWN_PROBLEMS:
            hidden = len(result.problems) - SHOWN_PROBLEMS
            self.stderr.write(f"… and {hidden} more problems (--json lists them all)")


def _progress(path: Path, *, quiet: bool) -> tqdm:
    size = path.stat().st_size if path.is_file() else None
    return tqdm(total=size, unit="B", unit_scale=True, desc="reading", disable=quiet or None)


def _counted(lines, bar: tqdm):
    for line in lines:
        bar.update(len(line))
        yield line
