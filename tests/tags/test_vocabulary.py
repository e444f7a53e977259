"""Tests for the vocabulary reader, vocabulary_import and the import_vocabulary command."""

import codecs
import io
import json

import pytest
from django.core.management import CommandError, call_command

from sessions_app import services as session_services
from tags.autocomplete import tags_complete
from tags.models import Tag, TagAlias
from tags.services import alias_create, implication_create, tags_get_or_create, vocabulary_import
from tags.vocabulary import VocabularyProblem, VocabularyRow, read_vocabulary

# The shape a1111-sd-webui-tagcomplete ships (danbooru.csv): no header,
# underscores, aliases quoted in the fourth column.
TAGCOMPLETE = b"""1girl,0,4114588,"1girls,sole_female"
hatsune_miku,4,150000,"miku,hatsune_miku_(cosplay)"
vocaloid,3,180000,
wlop,1,9000
highres,5,3000000,"high_res,hi_res"
^_^,0,5000,
"""


def problems(result) -> list[tuple[int, str]]:
    return [(problem.line, problem.reason) for problem in result.problems]


def vocabulary() -> dict[str, tuple[str, int]]:
    return {tag.name: (tag.category, tag.popularity) for tag in Tag.objects.all()}


def aliases() -> dict[str, str]:
    return dict(TagAlias.objects.values_list("name", "tag__name"))


# --- the reader ---------------------------------------------------------------------------


def test_reads_tagcomplete_rows_with_danbooru_types() -> None:
    parsed = read_vocabulary(TAGCOMPLETE)
    assert parsed.problems == []
    assert parsed.rows == [
        VocabularyRow(1, "1girl", "general", 4114588, ("1girls", "sole_female")),
        VocabularyRow(2, "hatsune_miku", "character", 150000, ("miku", "hatsune_miku_(cosplay)")),
        VocabularyRow(3, "vocaloid", "copyright", 180000, ()),
        VocabularyRow(4, "wlop", "artist", 9000, ()),
        VocabularyRow(5, "highres", "meta", 3000000, ("high_res", "hi_res")),
        VocabularyRow(6, "^_^", "general", 5000, ()),
    ]


def test_tolerates_bom_header_comments_blank_lines_and_missing_columns() -> None:
    data = codecs.BOM_UTF8 + b"name,type,count,aliases\r\n# a comment\r\n\r\ncat\r\ndog,4\r\n"
    parsed = read_vocabulary(data)
    assert parsed.problems == [VocabularyProblem(2, "skipped as a comment: '# a comment'")]
    assert parsed.rows == [VocabularyRow(4, "cat"), VocabularyRow(5, "dog", "character")]


def test_names_starting_with_a_hash_are_tags() -> None:
    """danbooru.csv holds #compass, #b7282e and #unicus_(idolmaster): rows, not comments."""
    data = b"#compass,3,252,\n#unicus_(idolmaster),0,260,#lookingforaunitname_(idolmaster)\n"
    parsed = read_vocabulary(data)
    assert parsed.problems == []
    assert parsed.rows == [
        VocabularyRow(1, "#compass", "copyright", 252),
        VocabularyRow(
            2, "#unicus_(idolmaster)", "general", 260, ("#lookingforaunitname_(idolmaster)",)
        ),
    ]


def test_hash_names_are_imported_with_their_aliases(db) -> None:
    result = vocabulary_import(read_vocabulary(b'#compass,3,252,"#compass_(game)"\n').rows)
    assert problems(result) == []
    assert vocabulary() == {"#compass": ("copyright", 252)}
    assert aliases() == {"#compass (game)": "#compass"}


# The shape of tagcomplete's e621.csv: 5 is species, 7 meta, 8 lore, 6 invalid.
E621 = b"""mammal,5,3437444,"mammals,mammal_(species)"
hi_res,7,3116617,"high_res,highres"
incest_(lore),8,53006,
featureless_(disambiguation),6,2538,
pikachu,5,30000,
voice_actor_name,2,40,
"""


def test_e621_type_codes_are_recognised_from_the_file() -> None:
    parsed = read_vocabulary(E621)
    assert (parsed.codes, parsed.codes_from) == ("e621", "file")
    assert parsed.problems == []
    assert [(row.name, row.category) for row in parsed.rows] == [
        ("mammal", "species"),
        ("hi_res", "meta"),
        ("incest_(lore)", "lore"),
        ("featureless_(disambiguation)", "invalid"),
        ("pikachu", "species"),
        ("voice_actor_name", "contributor"),
    ]


def test_a_file_with_only_shared_codes_is_read_as_danbooru_unless_told() -> None:
    shared = b"pikachu,5,30000\ncat,0,10\n"
    parsed = read_vocabulary(shared)
    assert (parsed.codes, parsed.codes_from) == ("danbooru", "default")
    assert parsed.rows[0].category == "meta"
    told = read_vocabulary(shared, codes="e621")
    assert (told.codes, told.codes_from) == ("e621", "option")
    assert told.rows[0].category == "species"


def test_danbooru_codes_chosen_explicitly_refuse_e621_only_codes() -> None:
    parsed = read_vocabulary(b"hi_res,7,1\ncat,0,1\n", codes="danbooru")
    assert [row.name for row in parsed.rows] == ["cat"]
    assert parsed.problems == [
        VocabularyProblem(
            1,
            "'hi_res': unknown type '7' (expected 0 general, 1 artist, 3 copyright, "
            "4 character, 5 meta)",
        )
    ]


def test_unknown_codes_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type codes 'gelbooru'"):
        read_vocabulary(b"cat,0,1\n", codes="gelbooru")


def test_accepts_category_names_for_the_type() -> None:
    assert read_vocabulary(b"cat,character,3\n").rows == [VocabularyRow(1, "cat", "character", 3)]


def test_bad_rows_are_reported_by_line_and_the_rest_is_read() -> None:
    data = b"cat,0,10\ndog,9,5\nfox,0,-3\nowl,0,many\n,0,1\ncaf\xe9,0,1\nbee,0,1\n"
    parsed = read_vocabulary(data)
    assert [row.name for row in parsed.rows] == ["cat", "bee"]
    assert parsed.problems == [
        VocabularyProblem(
            2,
            "'dog': unknown type '9' (expected 0 general, 1 artist, 3 copyright, 4 character, "
            "5 meta)",
        ),
        VocabularyProblem(3, "'fox': count '-3' is not a non-negative integer"),
        VocabularyProblem(4, "'owl': count 'many' is not a non-negative integer"),
        VocabularyProblem(5, "empty tag name"),
        VocabularyProblem(6, "not UTF-8 text (byte 0xe9 at column 4)"),
    ]


def test_line_numbers_follow_the_file_after_a_multiline_field() -> None:
    parsed = read_vocabulary(b'cat,0,1,"a,\nb"\ndog,9\n')
    assert parsed.rows[0].aliases == ("a", "b")
    assert parsed.problems[0].line == 3


# --- the service --------------------------------------------------------------------------


def test_import_creates_tags_with_categories_popularity_and_aliases(db) -> None:
    result = vocabulary_import(read_vocabulary(TAGCOMPLETE).rows)
    assert problems(result) == []
    assert (result.created, result.updated, result.unchanged) == (6, 0, 0)
    assert result.aliases_created == 6
    assert vocabulary() == {
        "1girl": ("general", 4114588),
        "hatsune miku": ("character", 150000),
        "vocaloid": ("copyright", 180000),
        "wlop": ("artist", 9000),
        "highres": ("meta", 3000000),
        "^_^": ("general", 5000),
    }
    assert aliases() == {
        "1girls": "1girl",
        "sole female": "1girl",
        "miku": "hatsune miku",
        "hatsune miku (cosplay)": "hatsune miku",
        "high res": "highres",
        "hi res": "highres",
    }


def test_autocomplete_knows_the_vocabulary_by_popularity(db) -> None:
    vocabulary_import(read_vocabulary(TAGCOMPLETE + b"hat,0,20\nhatsune_no_miku,0,10\n").rows)
    found = [tag["name"] for tag in tags_complete(prefix="hat", category=None, limit=5)]
    assert found == ["hatsune miku", "hat", "hatsune no miku"]
    found = tags_complete(prefix="hat", category="character", limit=5)
    assert [tag["name"] for tag in found] == ["hatsune miku"]


def test_reimport_updates_category_and_popularity_but_keeps_usage(
    db, session, session_images, alice
) -> None:
    session_services.tags_add(session, session_images[0].pk, actor=alice, names=["hatsune miku"])
    tag = Tag.objects.get(name="hatsune miku")
    vocabulary_import(read_vocabulary(TAGCOMPLETE).rows)
    again = vocabulary_import(read_vocabulary(TAGCOMPLETE.replace(b"150000", b"7")).rows)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 5)
    assert again.aliases_created == 0
    tag.refresh_from_db()
    assert (tag.category, tag.popularity, tag.image_count) == ("character", 7, 1)


def test_an_alias_that_is_a_tag_in_use_is_reported_and_left_alone(
    db, session, session_images, alice
) -> None:
    session_services.tags_add(session, session_images[0].pk, actor=alice, names=["miku"])
    result = vocabulary_import(read_vocabulary(TAGCOMPLETE).rows)
    assert problems(result) == [(2, "alias 'miku' is a tag on images; merge it instead")]
    assert Tag.objects.get(name="miku").image_count == 1
    assert "miku" not in aliases()
    assert aliases()["hatsune miku (cosplay)"] == "hatsune miku"


def test_an_alias_replaces_an_unused_tag(db) -> None:
    tags_get_or_create(["miku"])
    result = vocabulary_import(read_vocabulary(TAGCOMPLETE).rows)
    assert problems(result) == []
    assert result.tags_replaced_by_aliases == 1
    assert not Tag.objects.filter(name="miku").exists()
    assert aliases()["miku"] == "hatsune miku"


def test_an_unused_tag_with_implications_is_not_replaced(db) -> None:
    tags = tags_get_or_create(["miku", "twintails"])
    implication_create(tags["miku"], implied=tags["twintails"])
    result = vocabulary_import(read_vocabulary(TAGCOMPLETE).rows)
    assert problems(result) == [
        (2, "alias 'miku' is a tag with aliases or implications; merge it instead")
    ]
    assert Tag.objects.filter(name="miku").exists()


def test_conflicting_names_are_reported_and_skipped(db) -> None:
    existing = tags_get_or_create(["cat", "kitty"])
    alias_create(existing["cat"], name="neko")
    data = (
        b'dog,0,1,"puppy,neko"\n'  # neko already aliases cat
        b"neko,0,5\n"  # a row named like an existing alias
        b'wolf,0,2,"puppy,dog"\n'  # puppy already claimed at line 1; dog is a tag of its own
        b"Dog,0,9\n"  # normalizes to a name already read
        b'"bad,name",0,1\n'
        b'fox,0,1,"[]"\n'  # an alias that normalizes to nothing
    )
    result = vocabulary_import(read_vocabulary(data).rows)
    assert problems(result) == [
        (1, "alias 'neko' is already an alias of 'cat'"),
        (2, "'neko' is an alias of 'cat'; row skipped"),
        (3, "alias 'puppy' already names 'dog' (line 1)"),
        (3, "alias 'dog' is a tag of its own"),
        (4, "'dog' repeats line 1"),
        (5, "invalid tag 'bad,name': a tag name cannot contain a comma (commas separate tags)"),
        (6, "alias skipped: invalid tag '[]': a tag name cannot be empty"),
    ]
    assert aliases() == {"neko": "cat", "puppy": "dog"}
    assert set(vocabulary()) == {"cat", "kitty", "dog", "wolf", "fox"}


def test_another_boorus_file_never_recategorises_existing_tags(db) -> None:
    """Importing e621.csv after danbooru.csv turned 1,272 characters into meta."""
    vocabulary_import(read_vocabulary(b"pikachu,4,9000\nmammal,0,5\n").rows)
    result = vocabulary_import(read_vocabulary(E621).rows)
    assert result.categories_kept == 1
    assert problems(result) == [
        (
            5,
            "'pikachu' keeps its category 'character' (the file says 'species'; "
            "update categories to apply it)",
        )
    ]
    # general is what a tag gets by being used; the vocabulary then says more.
    assert vocabulary()["mammal"] == ("species", 3437444)
    assert vocabulary()["pikachu"] == ("character", 30000)


def test_update_categories_applies_the_files_categories(db) -> None:
    vocabulary_import(read_vocabulary(b"pikachu,4,9000\n").rows)
    result = vocabulary_import(read_vocabulary(E621).rows, update_categories=True)
    assert (result.categories_kept, problems(result)) == (0, [])
    assert vocabulary()["pikachu"] == ("species", 30000)


# --- the command --------------------------------------------------------------------------


def test_command_prints_one_json_object(db, tmp_path) -> None:
    path = tmp_path / "danbooru.csv"
    path.write_bytes(TAGCOMPLETE + b"bad,9,1\n")
    out = io.StringIO()
    call_command("import_vocabulary", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "rows": 6,
        "codes": "danbooru",
        "codes_from": "default",
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "aliases_created": 6,
        "tags_replaced_by_aliases": 0,
        "categories_kept": 0,
        "problems": [
            {
                "line": 7,
                "reason": "'bad': unknown type '9' (expected 0 general, 1 artist, 3 copyright, "
                "4 character, 5 meta)",
            }
        ],
    }


def test_command_summary_names_problem_lines(db, tmp_path) -> None:
    path = tmp_path / "danbooru.csv"
    path.write_bytes(b"cat,0,1\ndog,x\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_vocabulary", str(path), stdout=out, stderr=err)
    assert out.getvalue() == (
        "1 rows (danbooru type codes, the default; --codes e621 for e621's): "
        "1 tags created, 0 updated, 0 unchanged, 0 aliases created\n"
    )
    assert "line 2: 'dog': unknown type 'x'" in err.getvalue()


def test_command_takes_the_type_codes_and_the_category_update(db, tmp_path) -> None:
    path = tmp_path / "e621.csv"
    path.write_bytes(b"pikachu,5,30000\n")
    tags_get_or_create(["pikachu"])
    Tag.objects.filter(name="pikachu").update(category="character")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_vocabulary", str(path), "--codes", "e621", stdout=out, stderr=err)
    assert out.getvalue().startswith("1 rows (e621 type codes, as --codes says): ")
    assert out.getvalue().endswith(", 1 categories kept\n")
    assert "line 1: 'pikachu' keeps its category 'character'" in err.getvalue()
    call_command("import_vocabulary", str(path), "--codes=e621", "--update-categories", stdout=out)
    assert vocabulary() == {"pikachu": ("species", 30000)}


def test_command_refuses_a_missing_file(db, tmp_path) -> None:
    with pytest.raises(CommandError, match=r"cannot read .*missing\.csv: No such file"):
        call_command("import_vocabulary", str(tmp_path / "missing.csv"))
    assert not Tag.objects.exists()
