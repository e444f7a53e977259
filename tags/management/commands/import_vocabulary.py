"""`import_vocabulary FILE | --builtin`: load a tagcomplete-style CSV so autocomplete knows
the vocabulary; --builtin loads the one shipped with the project (tags/data/vocabulary)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tags.selectors import vocabulary_loaded
from tags.services import vocabulary_import
from tags.vocabulary import BUILTIN_VOCABULARY, TYPE_CODES, read_vocabulary

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = (
        "Import a tag vocabulary in the a1111-tagcomplete CSV shape: "
        'name,type,count,"alias1,alias2". Type codes are danbooru\'s (0 general, 1 artist, '
        "3 copyright, 4 character, 5 meta) or e621's (adds 2 contributor, 5 species, 6 invalid, "
        "7 meta, 8 lore): --codes chooses; without it a file using 2, 6, 7 or 8 is e621's and "
        "any other danbooru's. Existing tags get their popularity updated, and the file's "
        "category while theirs is general (--update-categories: always); rows that cannot be "
        "imported, and categories kept, are listed by line. --builtin loads the vocabulary "
        "shipped with Tagger (Danbooru's 5,000 most used tags, from a1111-sd-webui-tagcomplete, "
        "MIT); loading it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the CSV file")
        parser.add_argument(
            "--builtin",
            action="store_true",
            help="the vocabulary shipped with Tagger, instead of FILE",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing once any vocabulary has been imported (what `make run` uses)",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print one JSON object"
        )
        parser.add_argument(
            "--codes",
            choices=sorted(TYPE_CODES),
            help="the type codes of the file (default: recognised from the file, else danbooru)",
        )
        parser.add_argument(
            "--update-categories",
            action="store_true",
            help="give existing tags the file's category even when theirs is not general",
        )

    def handle(
        self,
        *args,
        file: str | None,
        builtin: bool,
        if_empty: bool,
        as_json: bool,
        codes: str | None,
        update_categories: bool,
        **options,
    ):
        if bool(file) == builtin:
            raise CommandError("give a FILE or --builtin, not both")
        if if_empty and vocabulary_loaded():
            self.stdout.write("a vocabulary is loaded already: nothing imported (--if-empty)")
            return
        path = BUILTIN_VOCABULARY if builtin else Path(file or "")
        try:
            with path.open("rb") as handle, _progress(path, quiet=as_json) as bar:
                vocabulary = read_vocabulary(_counted(handle, bar), codes=codes)
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror or error}") from None
        result = vocabulary_import(vocabulary.rows, update_categories=update_categories)
        result.problems = sorted(vocabulary.problems + result.problems, key=lambda p: p.line)
        codes_used = {"codes": vocabulary.codes, "codes_from": vocabulary.codes_from}
        if as_json:
            summary = {"rows": len(vocabulary.rows), **codes_used, **result.as_dict()}
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        self.stdout.write(
            f"{len(vocabulary.rows)} rows ({_codes_said(vocabulary)}): "
            f"{result.created} tags created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.aliases_created} aliases created"
            + (
                f", {result.tags_replaced_by_aliases} unused tags turned into aliases"
                if result.tags_replaced_by_aliases
                else ""
            )
            + (f", {result.categories_kept} categories kept" if result.categories_kept else "")
        )
        for problem in result.problems[:SHOWN_PROBLEMS]:
            self.stderr.write(f"line {problem.line}: {problem.reason}")
        if len(result.problems) > SHOWN_PROBLEMS:
            hidden = len(result.problems) - SHOWN_PROBLEMS
            self.stderr.write(f"… and {hidden} more problems (--json lists them all)")


def _codes_said(vocabulary) -> str:
    why = {
        "option": "as --codes says",
        "file": "the file uses codes only e621 has",
        "default": "the default; --codes e621 for e621's",
    }[vocabulary.codes_from]
    return f"{vocabulary.codes} type codes, {why}"


def _progress(path: Path, *, quiet: bool) -> tqdm:
    size = path.stat().st_size if path.is_file() else None
    return tqdm(total=size, unit="B", unit_scale=True, desc="reading", disable=quiet or None)


def _counted(lines, bar: tqdm):
    for line in lines:
        bar.update(len(line))
        yield line
