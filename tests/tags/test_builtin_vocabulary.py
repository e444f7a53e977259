"""The vocabulary shipped with Tagger: a fresh install completes and colours tags."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tags.autocomplete import tags_complete
from tags.models import Tag, TagAlias
from tags.vocabulary import BUILTIN_VOCABULARY, read_vocabulary

pytestmark = pytest.mark.django_db


def load(*flags: str) -> str:
    out = io.StringIO()
    call_command("import_vocabulary", "--builtin", *flags, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def state() -> tuple[dict, dict]:
    tags = {t.name: (t.category, t.popularity) for t in Tag.objects.all()}
    return tags, dict(TagAlias.objects.values_list("name", "tag__name"))


def test_the_shipped_file_reads_cleanly_and_carries_its_licence():
    vocabulary = read_vocabulary(BUILTIN_VOCABULARY.read_bytes())
    assert len(vocabulary.rows) == 5000 and vocabulary.problems == []
    assert vocabulary.codes == "danbooru"
    categories = {row.category for row in vocabulary.rows}
    assert {"general", "character", "copyright", "artist", "meta"} <= categories
    folder = BUILTIN_VOCABULARY.parent
    licence = (folder / "LICENSE-a1111-sd-webui-tagcomplete.txt").read_text()
    assert licence.startswith("MIT License") and "Dominik Reh" in licence
    assert "4170882f90b47be130a0ff9314f663c230b9153d" in (folder / "README.md").read_text()


def test_a_fresh_install_completes_and_colours_from_it():
    assert tags_complete(prefix="long h", category=None, limit=3) == []
    load("--if-empty")
    names = [item["name"] for item in tags_complete(prefix="long h", category=None, limit=3)]
    assert names[0] == "long hair"
    assert Tag.objects.get(name="hatsune miku").category == "character"
    assert Tag.objects.get(name="vocaloid").category == "copyright"
    # Its aliases complete too: "/lh" is tagcomplete's shortcut for long hair.
    assert TagAlias.objects.get(name="/lh").tag.name == "long hair"


def test_loading_it_again_changes_nothing():
    load()
    before = state()
    out = io.StringIO()
    call_command("import_vocabulary", "--builtin", "--json", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 5000)
    assert state() == before


def test_if_empty_leaves_a_loaded_vocabulary_and_its_curation_alone():
    load("--if-empty")
    Tag.objects.filter(name="highres").update(category="general")  # a curator's choice
    before = state()
    assert "nothing imported" in load("--if-empty")
    assert state() == before


@pytest.mark.parametrize("args", [[], ["some.csv", "--builtin"]])
def test_a_file_or_builtin_exactly_one(args):
    with pytest.raises(CommandError, match="FILE or --builtin"):
        call_command("import_vocabulary", *args)
    assert not Tag.objects.exists()
