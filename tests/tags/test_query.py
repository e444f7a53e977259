"""The tag query language: parse trees, positions in errors, and what queries match."""

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_app import services
from sessions_app.models import SessionImage
from tags.query import (
    MAX_TERMS,
    And,
    Not,
    Or,
    QueryError,
    SourceIs,
    StatusIs,
    TagCount,
    TagTerm,
    Untagged,
    compile_query,
    parse,
    prefer_driving,
)


def test_comma_is_and_pipe_binds_tighter_minus_negates():
    assert parse("a | b, -c") == And(
        (Or((TagTerm("a", 0), TagTerm("b", 4)), 0), Not(TagTerm("c", 8), 7)), 0
    )


def test_filters_and_keywords():
    node = parse("status:Todo, tags:<=3, source:prompt, untagged, tags:7")
    assert node.items == (
        StatusIs("todo", 0),
        TagCount("<=", 3, 13),
        SourceIs("prompt", 23),
        Untagged(38),
        TagCount("=", 7, 48),
    )


def test_names_are_normalized_and_quotes_allow_special_names():
    assert parse("Red_Hair") == TagTerm("red hair", 0)
    assert parse('"-_-"') == TagTerm("-_-", 0)
    assert parse(r"\|_\|") == TagTerm("|_|", 0)
    assert parse("t-shirt") == TagTerm("t-shirt", 0)
    assert parse("--a") == TagTerm("a", 2)
    assert parse("   ") is None


@pytest.mark.parametrize(
    ("text", "position"),
    [
        (",a", 0),
        ("a,", 2),
        ("a | ", 4),
        ("a b | c", None),
        ('a "b"', 2),
        ('"unterminated', 0),
        ("tags:<x", 0),
        ("source:web", 0),
        ("status:", 0),
        ("a, bad\u0007", 3),
        ("-", 1),
    ],
)
def test_errors_say_where(text, position):
    if position is None:
        assert parse(text) == Or((TagTerm("a b", 0), TagTerm("c", 6)), 0)
        return
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.position == position
    assert caught.value.details[0]["position"] == position
    assert f"at position {position}" in caught.value.message


def test_query_size_is_bounded():
    with pytest.raises(QueryError):
        parse(", ".join(f"t{i}" for i in range(MAX_TERMS + 1)))
    with pytest.raises(QueryError):
        parse("a" * 5000)
    assert parse("-" * 1999 + "a") == Not(TagTerm("a", 1999), 0)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_parser_never_crashes(text):
    try:
        parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b c", "-d", "status:todo", "tags:<3", "untagged", '"x|y"']),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.sampled_from([", ", " | "]), min_size=5, max_size=5),
)
def test_well_formed_queries_parse(terms, joins):
    text = terms[0] + "".join(join + term for join, term in zip(joins, terms[1:], strict=False))
    assert parse(text) is not None


def _matching(session, text: str, wanted: int | None = None) -> list[str]:
    where, params = compile_query(
        parse(text),
        image_column="si.image_id",
        status_column="si.status",
        statuses=["todo", "tagged"],
        wanted=wanted,
    )
    table = connection.ops.quote_name(SessionImage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT si.id FROM {table} si WHERE si.session_id = %s AND {where}"
            " ORDER BY si.position, si.id",
            [session.pk, *params],
        )
        ids = [row[0] for row in cursor.fetchall()]
    rows = SessionImage.objects.filter(pk__in=ids).order_by("position", "id")
    return [row.image.original_name for row in rows]


def test_compiled_queries_match(session, session_images, alice):
    first, second, _ = session_images
    services.tags_add(first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(second.pk, actor=alice, names=["red"])
    assert _matching(session, "red, -blue") == ["cat1.png"]
    assert _matching(session, "blue | untagged") == ["cat0.png", "cat2.png"]
    assert _matching(session, "tags:2") == ["cat0.png"]
    assert _matching(session, "tags:>0, tags:<2") == ["cat1.png"]
    assert _matching(session, "tags:<0") == []
    assert _matching(session, "tags:>=0") == ["cat0.png", "cat1.png", "cat2.png"]
    assert _matching(session, "source:manual, -(red:1.1)") == []
    with pytest.raises(QueryError):
        compile_query(parse("status:todo"), image_column="image_id")


@pytest.mark.parametrize("text", ["red", "red, blue", "red, -blue", "blue, red | untagged"])
def test_both_plans_of_an_and_match_the_same_images(session, session_images, alice, text):
    first, second, _ = session_images
    services.tags_add(first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(second.pk, actor=alice, names=["red"])
    driven, _ = compile_query(parse(text), image_column="si.image_id", wanted=None)
    assert "IN (SELECT" in driven  # every match wanted: the rarest tag's list drives
    assert _matching(session, text, wanted=None) == _matching(session, text, wanted=1)


@pytest.mark.parametrize(
    ("rarest", "density", "wanted", "drive"),
    [
        (5_000, 0.05 * 0.3, 51, False),  # the bench's AND: a page is ~3,400 rows into the walk
        (40_000, 0.4, 51, False),  # a common tag: the first page is a few hundred rows in
        (10, 0.0001 * 0.3, 51, True),  # a rare tag: the walk would cross the whole session
        (0, 0.0, 51, True),  # nobody carries it: nothing to read
        (60_000, 0.6, None, True),  # a batch selection wants every match
    ],
)
def test_an_and_drives_from_its_rarest_tag_when_that_reads_fewer_rows(
    rarest, density, wanted, drive
):
    assert prefer_driving(rarest, density, wanted, universe=100_000) is drive


@pytest.mark.parametrize(
    "text",
    [
        "red",
        "red, -blue",
        "blue | untagged",
        "tags:2",
        "tags:>0, tags:<2",
        "tags:<0",
        "tags:<1",
        "tags:>=0",
        "-nobody",
        "nobody | red",
        "red, nobody",
        "source:manual, -blue",
        "status:todo, -(red:1.1)",
        "blue, red | untagged",
    ],
)
def test_both_plans_match_the_same_images_for_every_kind_of_term(
    session, session_images, alice, text
):
    first, second, _ = session_images
    services.tags_add(first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(second.pk, actor=alice, names=["red"])
    assert _matching(session, text, wanted=None) == _matching(session, text, wanted=1)
