"""tagger.json as a backup: restored into an empty database, it exports the same bytes.

The document carries the session's settings, rules and members (by user
name), the written captions, statuses, file names and tag rows (suggestions
included), and the vocabulary with its popularity, so that autocomplete
ranks as it did. A malformed or hostile document changes nothing.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from datasets.caption_style import CaptionStyle
from datasets.exporting import ExportOptions, export_to_path
from datasets.services import tags_restore
from images.models import Image
from sessions_app import services
from sessions_app.models import SessionEvent, SessionMember, TaggingSession
from sessions_app.rules import rules_from_input, session_rules
from sessions_app.services.rules import rules_apply
from sessions_app.services.subsets import subset_create, subsets_dump
from sessions_app.services.written_caption import caption_replace
from tags.autocomplete import tags_complete
from tags.models import Tag, TagAlias
from tags.services import alias_create, implication_create, tag_set_category, tags_describe
from tests.support.images import png_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def wipe() -> None:
    """An empty database, as far as datasets go (users stay; stored files are content-addressed)."""
    TaggingSession.objects.all().delete()
    Image.objects.all().delete()
    Tag.objects.all().delete()


def restore(path: Path, *args: str, session: str = "Source", owner: str = "alice") -> dict:
    out = io.StringIO()
    call_command(
        "import_dataset",
        str(path),
        "--session",
        session,
        "--owner",
        owner,
        "--format",
        "json",
        "--json",
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return json.loads(out.getvalue())


def document_of(folder: Path) -> bytes:
    return (folder / "tagger.json").read_bytes()


IMAGES = [
    # (file name, tags as (name, source, confidence), status, written caption)
    (
        "one.png",
        [("ohwx", "manual", None), ("long hair", "caption", None), ("hat", "suggestion", 0.4)],
        "reviewed",
        "A woman with long hair.",
    ),
    ("sub/two.png", [("ohwx", "manual", None), ("hair bow", "autotagger", 0.9)], "tagged", ""),
    ("three.png", [("hair ornament", "prompt", None), ("long hair", "manual", None)], "todo", ""),
]


def build(alice, bob, carol) -> TaggingSession:
    """A session with everything a backup carries, made through our own services."""
    session = services.session_create(
        owner=alice, name="Source", description="Portraits", trigger_word="ohwx", separator="; "
    ).value
    services.session_update(
        session,
        actor=alice,
        use_underscores=True,
        escape_parentheses=True,
        caption_style=CaptionStyle(format="kohya", extension=".caption", trailing=", ").as_stored(),
    )
    services.session_member_add(session, actor=alice, user=bob, role="editor")
    services.session_member_add(session, actor=alice, user=carol, role="viewer")
    image_ids = []
    for index, (name, tags, status, caption) in enumerate(IMAGES):
        data = png_bytes((index * 60, 9, 120), size=(20 + index, 12))
        outcome = services.session_import_bytes(
            session, actor=alice, data=data, original_name=name
        ).value
        image_ids.append(outcome.image_id)
        tags_restore(session, outcome.image_id, actor=alice, entries=tags)
        if status != "todo":
            services.session_image_set_status(
                session, actor=alice, image_id=outcome.image_id, status=status
            )
        if caption:
            caption_replace(session, outcome.image_id, actor=alice, text=caption)
    tag_set_category(Tag.objects.get(name="ohwx"), category="character")
    alias_create(Tag.objects.get(name="long hair"), name="longhair")
    implication_create(Tag.objects.get(name="hair bow"), implied=Tag.objects.get(name="hat"))
    # Equal image counts: only popularity orders these in autocomplete.
    tags_describe(
        {"hair bow": (500, "A bow in the hair."), "hair ornament": (900, ""), "hat": (20, "")}
    )
    rules = rules_from_input(pinned=["ohwx"], blacklist=["watermark"], category_order=["general"])
    rules_apply(session, actor=alice, rules=rules)
    # kohya repeat folders: two images in one, an empty one, the last image in none.
    subset_create(session, actor=alice, name="ohwx", num_repeats=10, image_ids=image_ids[:2])
    subset_create(session, actor=alice, name="style", num_repeats=3, class_tokens="")
    return session


def ranking() -> dict[str, list[str]]:
    return {
        prefix: [t["name"] for t in tags_complete(prefix=prefix, category=None, limit=20)]
        for prefix in ("", "h", "hair", "long")
    }


def test_restore_into_an_empty_database_exports_the_same_bytes(tmp_path, alice, bob, carol):
    source = build(alice, bob, carol)
    export_to_path(source, "json", tmp_path / "first")
    before = {"rules": session_rules(source.pk), "ranking": ranking()}
    wipe()

    report = restore(tmp_path / "first")
    assert (report["imported"], report["skipped"], report["problems"]) == (3, [], [])
    restored = TaggingSession.objects.get(name="Source")
    export_to_path(restored, "json", tmp_path / "second")
    assert document_of(tmp_path / "second") == document_of(tmp_path / "first")
    files = sorted(p.relative_to(tmp_path / "first") for p in (tmp_path / "first").rglob("*"))
    for name in files:
        if (tmp_path / "first" / name).is_file():
            assert (tmp_path / "second" / name).read_bytes() == (
                tmp_path / "first" / name
            ).read_bytes()
    assert session_rules(restored.pk) == before["rules"]
    assert ranking() == before["ranking"]


def test_subsets_and_the_caption_style_come_back(tmp_path, alice, bob, carol):
    source = build(alice, bob, carol)
    before = (subsets_dump(source), source.caption_style)
    export_to_path(source, "json", tmp_path / "out")
    wipe()
    restore(tmp_path / "out")
    restored = TaggingSession.objects.get(name="Source")
    assert (subsets_dump(restored), restored.caption_style) == before
    assert [s["name"] for s in before[0]] == ["ohwx", "style"]
    assert len(before[0][0]["images"]) == 2


def test_autocomplete_ranks_by_the_restored_popularity(tmp_path, alice, bob, carol):
    export_to_path(build(alice, bob, carol), "json", tmp_path / "out")
    wipe()
    restore(tmp_path / "out")
    # hair ornament and hair bow are each on one image: popularity decides.
    assert ranking()["hair"][:2] == ["hair ornament", "hair bow"]
    assert Tag.objects.get(name="hair bow").description == "A bow in the hair."


def test_rules_and_settings_come_back_as_session_events(tmp_path, alice, bob, carol):
    export_to_path(build(alice, bob, carol), "json", tmp_path / "out")
    wipe()
    restore(tmp_path / "out")
    restored = TaggingSession.objects.get(name="Source")
    assert session_rules(restored.pk).as_dict() == {
        "blacklist": ["watermark"],
        "pinned": ["ohwx"],
        "category_order": ["general"],
    }
    assert (restored.separator, restored.use_underscores, restored.escape_parentheses) == (
        "; ",
        True,
        True,
    )
    kinds = set(SessionEvent.objects.filter(session=restored).values_list("kind", flat=True))
    assert {"session.updated", "member.added", "rules.applied"} <= kinds


def test_members_are_mapped_by_user_name_and_a_missing_user_is_reported(
    tmp_path, alice, bob, carol
):
    export_to_path(build(alice, bob, carol), "json", tmp_path / "out")
    wipe()
    carol.delete()
    users = get_user_model().objects.count()
    report = restore(tmp_path / "out")
    restored = TaggingSession.objects.get(name="Source")
    members = dict(
        SessionMember.objects.filter(session=restored).values_list("user__username", "role")
    )
    assert members == {"alice": "owner", "bob": "editor"}
    assert report["missing_users"] == ["carol"]
    assert [p["path"] for p in report["problems"]] == ["members"]
    assert "carol" in report["problems"][0]["reason"]
    assert get_user_model().objects.count() == users  # never created


def test_an_existing_tag_keeps_its_category_and_popularity(tmp_path, alice, bob, carol):
    export_to_path(build(alice, bob, carol), "json", tmp_path / "out")
    wipe()
    Tag.objects.create(name="ohwx", category="artist", popularity=7)
    report = restore(tmp_path / "out", session="Elsewhere")
    ohwx = Tag.objects.get(name="ohwx")
    assert (ohwx.category, ohwx.popularity) == ("artist", 7)
    assert any("keeps its category 'artist'" in p["reason"] for p in report["problems"])
    assert Tag.objects.get(name="hair ornament").popularity == 900  # a tag the restore made


def test_a_version_1_document_still_imports(tmp_path, alice):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((3, 4, 5)))
    document = {
        "format": "tagger-dataset",
        "version": 1,
        "exported_at": "2026-01-01T00:00:00+00:00",
        "session": {"name": "Old", "description": "", "trigger_word": "ohwx", "separator": ", "},
        "vocabulary": {
            "tags": [{"name": "cat", "category": "general", "description": "", "popularity": 3}],
            "aliases": [{"name": "neko", "tag": "cat"}],
            "implications": [],
        },
        "images": [
            {
                "file": "a.png",
                "sha256": None,
                "original_name": "a.png",
                "status": "tagged",
                "tags": [{"name": "cat", "category": "general", "source": "manual"}],
            }
        ],
    }
    (folder / "tagger.json").write_text(json.dumps(document))
    report = restore(folder, session="Old")
    assert (report["imported"], report["problems"]) == (1, [])
    assert TaggingSession.objects.get(name="Old").trigger_word == "ohwx"
    assert TagAlias.objects.get(name="neko").tag.popularity == 3


def _document(**changes) -> dict:
    image = {"file": "a.png", "status": "todo", "tags": [{"name": "cat", "source": "manual"}]}
    document = {
        "format": "tagger-dataset",
        "version": 2,
        "session": {"name": "S"},
        "rules": {"blacklist": [], "pinned": [], "category_order": []},
        "members": [],
        "vocabulary": {"tags": [], "aliases": [], "implications": []},
        "images": [image],
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return document


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
        ({"images__0__owner": "x"}, r"images\[0\]\.owner: Extra inputs"),
        ({"images__0__status": "done"}, r"images\[0\]\.status: Input should be"),
        ({"images__0__tags": "cat, dog"}, r"images\[0\]\.tags: Input should be a valid list"),
        ({"images__0__caption": 5}, r"images\[0\]\.caption: Input should be a valid string"),
        ({"images__0__caption": "x" * 200_000}, r"images\[0\]\.caption: String should have"),
        ({"images__0__tags": [{"name": "cat", "confidence": 7}]}, "less than or equal to 1"),
        ({"images__0__tags": [{"name": "cat", "spelling": "C" * 401}]}, r"spelling: String should"),
        ({"images__0__tags": [{"name": "cat", "spelling": ""}]}, r"spelling: String should"),
        ({"images__0__sha256": "../../etc/passwd"}, r"images\[0\]\.sha256: String should"),
        ({"vocabulary__tags": [{"name": "x", "category": "general", "popularity": 2**70}]}, "less"),
        ({"vocabulary__tags": [{"name": "x", "category": "evil"}]}, r"category: Input should"),
        ({"members": [{"username": "mallory", "role": "admin"}]}, r"members\[0\]\.role"),
        ({"members": [{"username": "bob"}]}, r"members\[0\]\.role: Field required"),
        ({"rules__pinned": ["x"] * 51}, r"rules\.pinned: List should have at most 50"),
        ({"session__use_underscores": "yes"}, r"session\.use_underscores: Input should be"),
        ({"version": 3}, "unsupported version 3"),
        ({"rules__pinned": ["cat"], "rules__blacklist": ["cat"]}, "both pinned and blacklisted"),
        ({"rules__pinned": ["bad\x00name"]}, "rules name an invalid tag"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_hostile_document_is_refused_and_changes_nothing(tmp_path, alice, changes, message):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((8, 8, 8)))
    (folder / "tagger.json").write_text(json.dumps(_document(**changes)))
    counts = (TaggingSession.objects.count, Image.objects.count, Tag.objects.count)
    before = [count() for count in counts]
    with pytest.raises(CommandError, match=message):
        restore(folder, session="Hostile")
    assert [count() for count in counts] == before


def test_a_path_outside_the_dataset_is_still_refused(tmp_path, alice):
    folder = tmp_path / "ds"
    folder.mkdir()
    (tmp_path / "secret.png").write_bytes(png_bytes((1, 2, 3)))
    (folder / "tagger.json").write_text(json.dumps(_document(images__0__file="../secret.png")))
    report = restore(folder, session="Escape")
    assert report["imported"] == 0
    assert "outside the dataset" in report["skipped"][0]["reason"]
    assert Image.objects.count() == 0


def test_the_api_export_is_the_same_backup(tmp_path, alice, bob, carol, as_):
    source = build(alice, bob, carol)
    export_to_path(source, "json", tmp_path / "out", ExportOptions(include_images=False))
    answer = as_(carol).get(f"/sessions/{source.pk}/export", format="json", images="false")
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == document_of(tmp_path / "out")


names = st.sampled_from(["1girl", "solo", "red hair", "hat (object)", "smile", "^_^", "cat"])
session_strategy = st.fixed_dictionaries(
    {
        "images": st.lists(
            st.fixed_dictionaries(
                {
                    "tags": st.lists(
                        st.tuples(
                            names,
                            st.sampled_from(["manual", "caption", "suggestion", "autotagger"]),
                            st.one_of(st.none(), st.sampled_from([0.25, 1.0])),
                        ),
                        max_size=4,
                        unique_by=lambda entry: entry[0],
                    ),
                    "status": st.sampled_from(["todo", "tagged", "reviewed", "skipped"]),
                    "caption": st.sampled_from(["", "A cat.", "Two lines\nof text."]),
                }
            ),
            min_size=1,
            max_size=3,
        ),
        "popularity": st.dictionaries(names, st.integers(0, 10**12), max_size=3),
        "pinned": st.lists(names, max_size=2, unique=True),
        "category_order": st.lists(
            st.sampled_from(["general", "character", "meta"]), max_size=2, unique=True
        ),
        "bob": st.sampled_from([None, "editor", "viewer", "owner"]),
    }
)


def build_generated(alice, bob, spec: dict) -> TaggingSession:
    session = services.session_create(owner=alice, name="Generated", trigger_word="ohwx").value
    if spec["bob"]:
        services.session_member_add(session, actor=alice, user=bob, role=spec["bob"])
    for index, image in enumerate(spec["images"]):
        outcome = services.session_import_bytes(
            session, actor=alice, data=png_bytes((index * 70, 1, 2)), original_name=f"i{index}.png"
        ).value
        tags_restore(session, outcome.image_id, actor=alice, entries=image["tags"])
        if image["status"] != "todo":
            services.session_image_set_status(
                session, actor=alice, image_id=outcome.image_id, status=image["status"]
            )
        if image["caption"]:
            caption_replace(session, outcome.image_id, actor=alice, text=image["caption"])
    tags_describe({name: (count, "") for name, count in spec["popularity"].items()})
    rules = rules_from_input(pinned=spec["pinned"], category_order=spec["category_order"])
    rules_apply(session, actor=alice, rules=rules)
    return session


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=session_strategy, as_zip=st.booleans())
def test_any_session_round_trips_byte_for_byte(tmp_path_factory, alice, bob, spec, as_zip):
    wipe()
    folder = tmp_path_factory.mktemp("backup")
    first = folder / ("first.zip" if as_zip else "first")
    export_to_path(build_generated(alice, bob, spec), "json", first)
    wanted = export_again(first, as_zip)
    before = ranking()
    wipe()
    report = restore(first, session="Generated")
    assert (report["skipped"], report["problems"]) == ([], [])
    second = folder / ("second.zip" if as_zip else "second")
    export_to_path(TaggingSession.objects.get(name="Generated"), "json", second)
    assert export_again(second, as_zip) == wanted
    assert ranking() == before


def export_again(path: Path, as_zip: bool) -> dict[str, bytes]:
    """Every file of an export, by name (a zip's members, or a folder's files)."""
    if as_zip:
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
