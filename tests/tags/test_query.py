"""The tag query language: parse trees, positions in errors, and what queries match."""

import operator
import re

import pytest
from django.db import connection, transaction
from django.db.models import Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from images.models import Image
from sessions_app import services
from sessions_app.models import SessionImage, SessionImageTag
from sessions_app.selectors import SESSION_TAG_ROWS
from tags.models import Tag
from tags.query import (
    MAX_TERMS,
    And,
    Not,
    Or,
    Plan,
    QueryError,
    SourceIs,
    StatusIs,
    TagCount,
    TagPattern,
    TagTerm,
    Untagged,
    compile_query,
    parse,
    plan_for,
)
from tests.support.images import make_image

PLANS: tuple[Plan, ...] = ("drive", "list", "walk")


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


def test_a_trailing_comma_is_accepted():
    # kohya captions often end with one; pasted into the filter it means nothing more.
    assert parse("1girl,") == TagTerm("1girl", 0)
    assert parse("1girl, smile , ") == parse("1girl, smile")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        (",a", 0),
        ("a,,", 2),
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


def _matching(session, text: str, wanted: int | None = None, plan: Plan | None = None) -> list[str]:
    where, params = compile_query(
        parse(text),
        tag_rows=SESSION_TAG_ROWS,
        image_column="si.id",
        status_column="si.status",
        statuses=["todo", "tagged"],
        wanted=wanted,
        plan=plan,
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


def test_wildcards_match_any_tag_whose_name_fits(session, session_images, alice):
    first, second, third = session_images
    services.tags_add(session, first.pk, actor=alice, names=["long hair", "red eyes"])
    services.tags_add(session, second.pk, actor=alice, names=["short hair"])
    services.tags_add(session, third.pk, actor=alice, names=["hair_ornament", "100%_cute"])
    assert parse("*hair") == TagPattern("*hair", 0)
    assert parse('"*hair"') == TagTerm("*hair", 0)  # quoted: a literal name
    assert _matching(session, "*hair") == ["cat0.png", "cat1.png"]
    assert _matching(session, "hair*") == ["cat2.png"]
    assert _matching(session, "*hair*, -long*") == ["cat1.png", "cat2.png"]
    assert _matching(session, "*eye* | short*") == ["cat0.png", "cat1.png"]
    # LIKE's own wildcards are plain characters in a pattern.
    assert _matching(session, "100%*") == ["cat2.png"]
    assert _matching(session, "1_0*") == []
    assert _matching(session, "*") == ["cat0.png", "cat1.png", "cat2.png"]


def test_compiled_queries_match(session, session_images, alice):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(session, second.pk, actor=alice, names=["red"])
    assert _matching(session, "red, -blue") == ["cat1.png"]
    assert _matching(session, "blue | untagged") == ["cat0.png", "cat2.png"]
    assert _matching(session, "tags:2") == ["cat0.png"]
    assert _matching(session, "tags:>0, tags:<2") == ["cat1.png"]
    assert _matching(session, "tags:<0") == []
    assert _matching(session, "tags:>=0") == ["cat0.png", "cat1.png", "cat2.png"]
    assert _matching(session, "source:manual, -(red:1.1)") == []
    with pytest.raises(QueryError):
        compile_query(parse("status:todo"), tag_rows=SESSION_TAG_ROWS, image_column="id")


@pytest.mark.parametrize("text", ["red", "red, blue", "red, -blue", "blue, red | untagged"])
def test_every_plan_of_an_and_matches_the_same_images(session, session_images, alice, text):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(session, second.pk, actor=alice, names=["red"])
    driven, _ = compile_query(
        parse(text), tag_rows=SESSION_TAG_ROWS, image_column="si.id", wanted=None
    )
    # Every match wanted: the rarest tag's list drives (no unary + to stop it).
    assert "si.id IN (SELECT" in driven
    assert "+si.id" not in driven
    expected = _matching(session, text, wanted=None)
    assert _matching(session, text, wanted=1) == expected
    for plan in PLANS:
        assert _matching(session, text, wanted=1, plan=plan) == expected, plan


@pytest.mark.parametrize(
    ("rarest", "density", "wanted", "plan"),
    [
        (5_000, 0.05 * 0.3, 51, "list"),  # the bench's AND: a page is ~3,400 rows into the walk
        (40_000, 0.4, 51, "walk"),  # a common tag: the first page is a few hundred rows in
        (10, 0.0001 * 0.3, 51, "drive"),  # a rare tag: the walk would cross the whole session
        (0, 0.0, 51, "drive"),  # nobody carries it: nothing to read
        (60_000, 0.6, None, "drive"),  # a batch selection wants every match
        (5, 0.5, None, "drive"),  # ... even when a page would be found at once
        (2_000, 0.02, 51, "list"),  # a lone tag: 2,550 rows pay for a list of 2,000
        (20_000, 0.2, 51, "walk"),  # a lone common tag: 255 rows cannot pay for 20,000
        # A list of 1,000 is built for ~97 µs, which a walk recovers past ~513 rows.
        (1_000, 51 / 600, 51, "list"),
        (1_000, 51 / 400, 51, "walk"),
        (1_000, 51 / 8_100, 51, "drive"),  # past 8 rows per image of the tag, drive
        (1_000, 0.5, 0, "walk"),  # no row wanted: nothing to walk, nothing worth building
    ],
)
def test_an_and_reads_its_rarest_tag_by_the_cheapest_plan(rarest, density, wanted, plan):
    assert plan_for(rarest, density, wanted, universe=100_000) == plan


def test_an_empty_library_drives():
    assert plan_for(0, 0.0, 51, universe=0) == "drive"


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
    services.tags_add(session, first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(session, second.pk, actor=alice, names=["red"])
    assert _matching(session, text, wanted=None) == _matching(session, text, wanted=1)


def test_every_plan_matches_for_every_kind_of_term(session, session_images, alice):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=alice, names=["red", "blue"])
    services.tags_add(session, second.pk, actor=alice, names=["red"])
    for text in ["red, -blue", "red, nobody", "status:todo, -(red:1.1)", "tags:>0, red"]:
        expected = _matching(session, text, wanted=None)
        for plan in PLANS:
            assert _matching(session, text, wanted=51, plan=plan) == expected, (text, plan)


# --- every plan agrees with the definition ------------------------------------------

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def holds(node, names: set[str]) -> bool:
    """The definition of a match, for an image carrying `names` (no status, no sources)."""
    if isinstance(node, TagTerm):
        return node.name in names
    if isinstance(node, Not):
        return not holds(node.item, names)
    if isinstance(node, Or):
        return any(holds(item, names) for item in node.items)
    if isinstance(node, And):
        return all(holds(item, names) for item in node.items)
    if isinstance(node, Untagged):
        return not names
    assert isinstance(node, TagCount)
    return _COMPARE.get(node.op, operator.eq)(len(names), node.value)


@pytest.fixture
def six_images(session, alice) -> list[Image]:
    """Six images in the session, in order."""
    images = [make_image(color=(30 * i, 60, 90), name=f"img{i}.png") for i in range(6)]
    services.session_images_add(session, actor=alice, images=images)
    return images


_TERMS = ["a", "b", "c", "-a", "-b", "-c", "nobody", "-nobody", "untagged", "tags:<2", "a | b"]


# The plan is forced: which one the costs choose depends on the library's highest
# image id, which the test database does not pin; `wanted` 0, 1 and 51 add whatever
# the costs choose for these six images.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    taggings=st.lists(st.sets(st.sampled_from("abc")), min_size=6, max_size=6),
    terms=st.lists(st.sampled_from(_TERMS), min_size=1, max_size=4),
)
def test_every_plan_matches_what_the_query_means(session, six_images, alice, taggings, terms):
    text = ", ".join(terms)
    expected = [
        image.original_name
        for image, names in zip(six_images, taggings, strict=True)
        if holds(parse(text), names)
    ]
    with transaction.atomic():
        for image, names in zip(six_images, taggings, strict=True):
            if names:
                services.tags_add(session, image.pk, actor=alice, names=sorted(names))
        found = {
            (wanted, plan): _matching(session, text, wanted=wanted, plan=plan)
            for wanted, plan in [(None, None), (0, None), (1, None), (51, None)]
            + [(51, plan) for plan in PLANS]
        }
        transaction.set_rollback(True)
    assert found == dict.fromkeys(found, expected)


# --- the listed walk keeps session order -------------------------------------------


def _order_index() -> str:
    """The session-order index: the one on the session's entries that leads with
    (session, position)."""
    table = SessionImage._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    [name] = [
        name
        for name, info in constraints.items()
        if info["index"] and info["columns"][:2] == ["session_id", "position"]
    ]
    return name


def _page_plan(session, where: str, params: list) -> str:
    """SQLite's plan for a page read shaped like sessions_app.selectors' page query."""
    quote = connection.ops.quote_name
    entry, image = quote(SessionImage._meta.db_table), quote(Image._meta.db_table)
    sql = (
        f"SELECT si.id, si.position, si.image_id, i.width FROM {entry} si"
        f" JOIN {image} i ON i.id = si.image_id WHERE si.session_id = %s AND {where}"
        " ORDER BY si.position, si.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [session.pk, *params, 51])
        return "\n".join(row[-1] for row in cursor.fetchall())


def _bench_statistics() -> None:
    """Give SQLite's planner the statistics ANALYZE finds on the 100k-image bench.

    100k images, all in one session; 2.5M image tags, ~25 per image and ~50 per tag.
    Without statistics SQLite walks the first index that serves the ORDER BY
    whatever the WHERE says, so a plan test on six images would prove nothing.
    """
    tables = {
        Image._meta.db_table: 100_000,
        SessionImage._meta.db_table: 100_000,
        SessionImageTag._meta.db_table: 2_500_000,
    }
    per_key = {"session_id": 100_000, "tag_id": 50}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        for table, rows in tables.items():
            cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = %s", [table])
            cursor.execute("INSERT INTO sqlite_stat1 VALUES (%s, NULL, %s)", [table, str(rows)])
            lead = {**per_key, "entry_id": 25, "image_id": 1}
            cursor.execute(f"PRAGMA index_list({connection.ops.quote_name(table)})")
            for index in [row[1] for row in cursor.fetchall()]:
                cursor.execute(f"PRAGMA index_info({connection.ops.quote_name(index)})")
                columns = [row[2] for row in cursor.fetchall()]
                spread = [rows, lead.get(columns[0], rows)] + [1] * (len(columns) - 1)
                cursor.execute(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (%s, %s, %s)",
                    [table, index, " ".join(map(str, spread))],
                )
        cursor.execute("ANALYZE sqlite_schema")  # reload the statistics


def _bench_shaped(session, images: list[Image], alice) -> str:
    """Tag the six images and give compile_query the bench's numbers; the query to run.

    The plan depends only on the tags' counts and the highest session image id, never on
    the rows themselves, so six images can stand for a library of 100k in which
    red is common, blue rare and green middling.
    """
    for index, image in enumerate(images):
        names = ["red", "blue"] if index % 2 else ["red", "green"] if index == 0 else ["red"]
        services.tags_add(session, image.pk, actor=alice, names=names)
    assert SessionImage.objects.aggregate(top=Max("id"))["top"] < 100_000
    far = make_image(name="far.png")
    other = services.session_create(owner=alice, name="far").value
    services.session_images_add(other, actor=alice, images=[far])
    SessionImage.objects.filter(image=far).update(id=100_000)
    for name, count in {"red": 30_000, "blue": 5_000, "green": 10_000}.items():
        Tag.objects.filter(name=name).update(image_count=count)
    return "red, blue, -green"


def test_a_long_walk_tests_the_rarest_tag_against_its_list(session, six_images, alice):
    text = _bench_shaped(session, six_images, alice)
    listed, _ = compile_query(
        parse(text), tag_rows=SESSION_TAG_ROWS, image_column="si.id", wanted=51
    )
    # blue, the rarest, is tested against its list; red and -green are probed as before.
    assert "+si.id IN (SELECT entry_id FROM" in listed
    assert listed.count("NOT (EXISTS") == 1
    assert listed.count("EXISTS") == 2
    expected = ["img1.png", "img3.png", "img5.png"]
    assert _matching(session, text, wanted=51) == _matching(session, text) == expected


def test_the_listed_walk_keeps_to_session_order(session, six_images, alice):
    if connection.vendor != "sqlite":
        pytest.skip("the unary + is a hint to SQLite's planner; PostgreSQL costs the IN itself")
    text = _bench_shaped(session, six_images, alice)
    listed, params = compile_query(
        parse(text), tag_rows=SESSION_TAG_ROWS, image_column="si.id", wanted=51
    )
    _bench_statistics()
    plan = _page_plan(session, listed, params)
    order = _order_index()
    assert re.search(rf"^SEARCH si USING (COVERING )?INDEX {order} \(session_id=\?\)$", plan, re.M)
    assert "LIST SUBQUERY" in plan  # blue's images, read once
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan
    # The same statistics make SQLite drive from an IN without the +, and sort.
    driven, params = compile_query(
        parse(text), tag_rows=SESSION_TAG_ROWS, image_column="si.id", wanted=None
    )
    assert "USE TEMP B-TREE FOR ORDER BY" in _page_plan(session, driven, params)
