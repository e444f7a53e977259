"""The written caption of a session image: kept exactly, edited optimistically.

A sentence is what SDXL, Flux and SD3 datasets are captioned with; it must
come back byte for byte, and two people writing it at once must both keep
their text (one 409 carrying the other's), never a silent last-writer-wins.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app import services
from sessions_app.models import SessionEvent, SessionImage
from sessions_app.services.undo import operation_redo, operation_undo
from sessions_app.services.written_caption import MAX_CAPTION_LENGTH
from tagger_project.errors import Conflict, InvalidInput, NotFound, StaleVersion
from tests.support.api import error_of

pytestmark = pytest.mark.django_db

RAIN = "A woman with long black hair standing in the rain.\nShe smiles, (softly)."


def caption_of(session, image) -> tuple[str, int]:
    entry = SessionImage.objects.get(session=session, image=image)
    return entry.caption, entry.caption_version


def detail(client, session, image) -> dict:
    answer = client.get(f"/sessions/{session.pk}/images/{image.pk}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def put_caption(client, session, image, text: str, version: int):
    return client.put(
        f"/sessions/{session.pk}/images/{image.pk}/caption",
        {"caption": text, "version": version},
    )


def test_a_caption_is_kept_exactly_as_written_and_logged(session, session_images, as_, bob):
    image = session_images[0]
    answer = put_caption(as_(bob), session, image, RAIN, 0)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["caption"], body["caption_version"]) == (RAIN, 1)
    event = SessionEvent.objects.get(session=session, seq=body["seq"])
    assert event.kind == "caption.changed"
    assert event.payload == {"image_id": image.pk, "caption": RAIN, "caption_version": 1}
    shown = detail(as_(bob), session, image)
    assert (shown["caption"], shown["caption_version"]) == (RAIN, 1)
    # Tags and caption keep separate versions: a tag edit does not stale the text.
    services.tags_add(session, image.pk, actor=bob, names=["1girl"])
    assert put_caption(as_(bob), session, image, RAIN + " Again.", 1).status_code == 200


def test_two_writers_one_409_and_both_texts_recoverable(session, session_images, as_, alice, bob):
    image = session_images[0]
    mine, theirs = "Alice's sentence.", "Bob's: a different one!"
    assert put_caption(as_(alice), session, image, mine, 0).status_code == 200
    stale = put_caption(as_(bob), session, image, theirs, 0)
    assert stale.status_code == 409
    error = error_of(stale)
    assert error["code"] == "stale_version"
    # The loser gets the winner's text and version to put beside their own...
    assert error["details"][0] == {
        "image_id": image.pk,
        "caption": mine,
        "caption_version": 1,
    }
    assert caption_of(session, image) == (mine, 1)
    # ...and rebasing on it wins.
    merged = f"{mine} {theirs}"
    assert put_caption(as_(bob), session, image, merged, 1).status_code == 200
    assert caption_of(session, image) == (merged, 2)


@pytest.mark.parametrize(
    "text, why",
    [
        ("x" * (MAX_CAPTION_LENGTH + 1), "at most"),
        ("nul \x00 inside", "U+0000"),
        ("escape \x1b[31m", "U+001B"),
    ],
)
def test_bad_captions_are_refused_and_change_nothing(session, session_images, bob, text, why):
    image = session_images[0]
    before = session.events.count()
    with pytest.raises(InvalidInput, match=why.replace("+", r"\+")):
        services.caption_set(session, image.pk, actor=bob, text=text, version=0)
    assert caption_of(session, image) == ("", 0)
    assert session.events.count() == before


def test_api_refuses_bad_bodies(session, session_images, as_, bob, carol, dave):
    image = session_images[0]
    url = f"/sessions/{session.pk}/images/{image.pk}/caption"
    for body in ({"caption": "x"}, {"caption": 5, "version": 0}, {"caption": "x", "version": -1}):
        assert as_(bob).put(url, body).status_code == 422, body
    too_long = {"caption": "x" * (MAX_CAPTION_LENGTH + 1), "version": 0}
    assert as_(bob).put(url, too_long).status_code == 422
    assert as_(bob).put(url, {"caption": "a\x00b", "version": 0}).status_code in (400, 422)
    assert as_(carol).put(url, {"caption": "viewer", "version": 0}).status_code == 403
    assert as_(dave).put(url, {"caption": "outsider", "version": 0}).status_code == 404
    missing = f"/sessions/{session.pk}/images/{image.pk + 1000}/caption"
    assert as_(bob).put(missing, {"caption": "x", "version": 0}).status_code == 404
    assert caption_of(session, image) == ("", 0)


def test_undo_and_redo_walk_back_through_several_captions(session, session_images, bob):
    image = session_images[0]
    for version, text in enumerate(["one.", "two.", "three."]):
        services.caption_set(session, image.pk, actor=bob, text=text, version=version)
    operation_undo(session, actor=bob)
    assert caption_of(session, image)[0] == "two."
    operation_undo(session, actor=bob)
    assert caption_of(session, image)[0] == "one."
    operation_redo(session, actor=bob)
    assert caption_of(session, image)[0] == "two."


def test_undo_refuses_to_clobber_someone_elses_caption(session, session_images, alice, bob):
    image = session_images[0]
    services.caption_set(session, image.pk, actor=bob, text="bob's", version=0)
    services.caption_set(session, image.pk, actor=alice, text="alice's", version=1)
    with pytest.raises(Conflict, match="changed by someone else"):
        operation_undo(session, actor=bob)
    assert caption_of(session, image) == ("alice's", 2)


def test_caption_undo_and_tag_undo_do_not_mix_their_versions(session, session_images, bob):
    image = session_images[0]
    services.tags_add(session, image.pk, actor=bob, names=["cat"])
    services.caption_set(session, image.pk, actor=bob, text="A cat.", version=0)
    operation_undo(session, actor=bob)  # the caption
    operation_undo(session, actor=bob)  # the tag, though the caption moved since
    assert caption_of(session, image) == ("", 2)
    assert services.image_tag_state(session, image.pk).tags == []


def test_each_session_keeps_its_own_caption(session, session_images, alice, dave):
    image = session_images[0]
    other = services.session_create(owner=dave, name="Style LoRA").value
    services.session_images_add(other, actor=dave, images=[image])
    services.caption_set(session, image.pk, actor=alice, text="ohwx woman, portrait.", version=0)
    services.caption_set(other, image.pk, actor=dave, text="In the style of ink.", version=0)
    assert caption_of(session, image)[0] == "ohwx woman, portrait."
    assert caption_of(other, image)[0] == "In the style of ink."
    # A session that does not hold the image has no caption to write.
    third = services.session_create(owner=dave, name="Empty").value
    with pytest.raises(NotFound):
        services.caption_set(third, image.pk, actor=dave, text="x", version=0)


def test_a_stale_write_names_the_current_text(session, session_images, bob):
    image = session_images[0]
    services.caption_set(session, image.pk, actor=bob, text="first", version=0)
    with pytest.raises(StaleVersion) as raised:
        services.caption_set(session, image.pk, actor=bob, text="second", version=0)
    assert raised.value.current["caption"] == "first"


CAPTION_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="")
    | st.sampled_from("\n\t"),
    max_size=300,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=CAPTION_TEXT)
def test_any_text_reads_back_exactly(session, session_images, as_, bob, text):
    image = session_images[1]
    version = caption_of(session, image)[1]
    answer = put_caption(as_(bob), session, image, text, version)
    assert answer.status_code == 200, answer.content
    assert detail(as_(bob), session, image)["caption"] == text


def _matching(session, query: str) -> list[int]:
    from sessions_app.selectors import images_for_session, session_image_ids

    items, _ = images_for_session(session, query=query, cursor=None, limit=50)
    # The page and the batch selection compile the same filter.
    assert sorted(session_image_ids(session, query=query)) == sorted(i["id"] for i in items)
    return [item["id"] for item in items]


def test_the_query_language_filters_on_the_written_caption(session, session_images, bob):
    rainy, sunny, bare = session_images
    services.caption_set(session, rainy.pk, actor=bob, text="Standing in the RAIN.", version=0)
    services.caption_set(session, sunny.pk, actor=bob, text="A sunny 100% day_1", version=0)
    services.tags_add(session, rainy.pk, actor=bob, names=["umbrella"])
    assert _matching(session, "caption:rain") == [rainy.pk]
    assert _matching(session, 'caption:"in the rain"') == [rainy.pk]
    assert _matching(session, "caption:100%") == [sunny.pk]  # LIKE's own characters are literal
    assert _matching(session, "caption:y_1") == [sunny.pk]
    assert _matching(session, "caption:y%1") == []
    assert _matching(session, "has:caption") == [rainy.pk, sunny.pk]
    assert _matching(session, "-has:caption") == [bare.pk]
    assert _matching(session, "has:caption, -umbrella") == [sunny.pk]
    assert _matching(session, 'umbrella | caption:"sunny"') == [rainy.pk, sunny.pk]


@pytest.mark.parametrize("query", ["caption:", 'caption:"  "', "has:tags", "has:"])
def test_bad_caption_filters_say_why(session, query):
    from sessions_app.selectors import images_for_session
    from tags.query import QueryError

    with pytest.raises(QueryError):
        images_for_session(session, query=query, cursor=None, limit=50)
