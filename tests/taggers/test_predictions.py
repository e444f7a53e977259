"""Predictions per image content and model: inferred once, in batches, and read back."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from images.services import image_process_bytes, image_store
from sessions_app import services as session_services
from taggers.models import Prediction, TaggerModel
from taggers.scores import STEPS, encode_scores
from taggers.selection import SelectionOptions, select_tags
from taggers.selectors import tagger_named
from taggers.services import LOOKUP_SLICE, predictions_for, tagger_model_row
from tests.support.images import make_image
from tests.support.taggers import expected_scores, write_tagger
from tests.taggers.reference_preprocessing import reference_prepare

pytestmark = pytest.mark.django_db
QUANTUM = 0.5 / STEPS + 1e-6


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_image(alice, seed: int, mode: str = "RGB", size=(40, 30)):
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, mode).save(buffer, "PNG")
    image, _ = image_store(
        image_process_bytes(buffer.getvalue()), original_name=f"img{seed}.png", actor=alice
    )
    return image


@pytest.fixture
def images(media, alice):
    return [stored_image(alice, seed, "RGBA" if seed % 3 == 0 else "RGB") for seed in range(11)]


def expected_for(image, tagger) -> np.ndarray:
    with image.file.open("rb") as handle, PILImage.open(handle) as picture:
        prepared = reference_prepare(picture, tagger.signature.size)
    return expected_scores(prepared[None], tagger.signature.tag_count)[0]


def test_infers_every_image_once_and_stores_its_scores(models_dir, images):
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    result = predictions_for(images, tagger)
    assert result.inferred == 11 and not result.failed
    assert set(result.scores) == {image.pk for image in images}
    for image in images:
        np.testing.assert_allclose(
            result.scores[image.pk], expected_for(image, tagger), atol=QUANTUM
        )
    (row,) = TaggerModel.objects.all()
    assert (row.name, row.sha256, row.tag_count, row.input_size) == (
        "wd-tiny",
        tagger.sha256,
        13,
        32,
    )
    assert Prediction.objects.filter(tagger=row).count() == 11


def test_running_again_needs_no_inference_and_gives_the_same_scores(
    models_dir, images, django_assert_num_queries
):
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    first = predictions_for(images, tagger)
    with django_assert_num_queries(2):  # the model row, then every stored prediction at once
        again = predictions_for(images, tagger)
    assert again.inferred == 0
    for image in images:
        assert np.array_equal(again.scores[image.pk], first.scores[image.pk])
    # Other thresholds select from the stored scores.
    strict = SelectionOptions(general_threshold=0.9)
    loose = SelectionOptions(general_threshold=0.01, character_threshold=0.01)
    scores = again.scores[images[0].pk]
    assert len(select_tags(scores, tagger.labels, strict)) <= len(
        select_tags(scores, tagger.labels, loose)
    )


def test_only_what_is_missing_is_inferred(models_dir, images):
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    predictions_for(images[:4], tagger)
    result = predictions_for(images, tagger)
    assert result.inferred == 7 and len(result.scores) == 11
    assert Prediction.objects.count() == 11


def test_another_session_holding_the_same_file_reuses_the_predictions(
    models_dir, media, alice, dave
):
    image = stored_image(alice, 1)
    cats = session_services.session_create(owner=alice, name="Cats").value
    session_services.session_images_add(cats, actor=alice, images=[image])
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    assert predictions_for([image], tagger).inferred == 1
    copy = stored_image(dave, 1)  # the same bytes, uploaded by someone else
    assert copy.pk == image.pk
    dogs = session_services.session_create(owner=dave, name="Dogs").value
    session_services.session_images_add(dogs, actor=dave, images=[copy])
    assert predictions_for([copy], tagger).inferred == 0


def test_a_new_model_file_in_the_folder_gets_its_own_predictions(models_dir, images):
    folder = write_tagger(models_dir / "wd-tiny")
    predictions_for(images[:2], tagger_named("wd-tiny"))
    write_tagger(folder, size=300)
    newer = tagger_named("wd-tiny")
    assert predictions_for(images[:2], newer).inferred == 2
    assert TaggerModel.objects.filter(name="wd-tiny").count() == 2


def test_fixed_and_dynamic_batch_models_agree(models_dir, images):
    dynamic = predictions_for(images, tagger_named(write_tagger(models_dir / "dyn").name))
    fixed = predictions_for(images, tagger_named(write_tagger(models_dir / "one", batch=1).name))
    for image in images:
        np.testing.assert_allclose(
            dynamic.scores[image.pk], fixed.scores[image.pk], atol=2 * QUANTUM
        )


def test_an_unreadable_file_is_reported_and_the_rest_go_on(models_dir, images, media):
    broken = images[5]
    (media / broken.file.name).write_bytes(b"not an image any more")
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    result = predictions_for(images, tagger)
    assert list(result.failed) == [broken.pk] and "img5.png" in result.failed[broken.pk]
    assert result.inferred == 10
    assert not Prediction.objects.filter(image=broken).exists()


def test_scores_are_stored_compactly(models_dir, images):
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    predictions_for(images[:1], tagger)
    blob = bytes(Prediction.objects.get().scores)
    assert len(blob) < 4 * tagger.signature.tag_count  # under float32 size even for 13 tags


def test_many_stored_predictions_are_read_in_slices(models_dir, django_assert_num_queries):
    tagger = tagger_named(write_tagger(models_dir / "wd-tiny").name)
    row = tagger_model_row(tagger)
    many = [make_image(color=(i % 256, i // 256, 0), name=f"m{i}.png") for i in range(950)]
    blob = encode_scores(np.linspace(0, 1, 13, dtype=np.float32))
    Prediction.objects.bulk_create(Prediction(image=i, tagger=row, scores=blob) for i in many)
    assert len(many) > LOOKUP_SLICE
    with django_assert_num_queries(3):  # the model row, then two slices
        result = predictions_for(many, tagger)
    assert result.inferred == 0 and len(result.scores) == 950
