"""Loading model folders: what is accepted, what is refused and why, and the per-process cache."""

import numpy as np
import pytest
from onnx import TensorProto

from taggers.errors import BadTaggerModel, TaggerNotFound
from taggers.models import Prediction, TaggerModel
from taggers.runtime import run_batch
from taggers.selectors import tagger_named, taggers_available
from tests.support.taggers import (
    INPUT_NAME,
    OUTPUT_NAME,
    expected_scores,
    tag_rows,
    write_labels,
    write_tagger,
)

pytestmark = pytest.mark.django_db


def refused(name: str) -> str:
    with pytest.raises(BadTaggerModel) as caught:
        tagger_named(name)
    assert not TaggerModel.objects.exists() and not Prediction.objects.exists()
    (info,) = [i for i in taggers_available() if i.name == name]
    assert not info.usable and info.error == caught.value.message
    return caught.value.message


def test_dynamic_batch_model_reads_its_signature_from_the_session(models_dir):
    write_tagger(models_dir / "wd-tiny", size=40)
    tagger = tagger_named("wd-tiny")
    signature = tagger.signature
    assert (signature.input_name, signature.output_name) == (INPUT_NAME, OUTPUT_NAME)
    assert (signature.size, signature.fixed_batch, signature.tag_count) == (40, None, 13)
    assert tagger.providers == ("CPUExecutionProvider",)
    batch = np.random.default_rng(1).uniform(0, 255, (5, 40, 40, 3)).astype(np.float32)
    np.testing.assert_allclose(run_batch(tagger, batch), expected_scores(batch, 13), atol=1e-5)


def test_fixed_batch_model_runs_one_image_at_a_time(models_dir):
    write_tagger(models_dir / "fixed", batch=1)
    tagger = tagger_named("fixed")
    assert tagger.signature.fixed_batch == 1 and tagger.batch_size == 1
    batch = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(run_batch(tagger, batch), expected_scores(batch, 13), atol=1e-5)


def test_fixed_batch_of_two_pads_the_last_chunk(models_dir):
    write_tagger(models_dir / "pairs", batch=2)
    batch = np.random.default_rng(3).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    scores = run_batch(tagger_named("pairs"), batch)
    assert scores.shape == (3, 13)
    np.testing.assert_allclose(scores, expected_scores(batch, 13), atol=1e-5)


def test_a_model_is_loaded_once_per_process_until_its_file_changes(models_dir):
    folder = write_tagger(models_dir / "cached")
    first = tagger_named("cached")
    assert tagger_named("cached") is first
    write_tagger(folder, size=300)  # a new model.onnx (of another byte size) in the folder
    second = tagger_named("cached")
    assert second is not first and second.signature.size == 300
    assert second.sha256 != first.sha256


def test_listing_names_every_folder_in_order(models_dir):
    write_tagger(models_dir / "b-model", batch=1)
    write_tagger(models_dir / "a-model")
    (models_dir / "broken").mkdir()
    (models_dir / ".hidden").mkdir()
    (models_dir / "not-a-folder.txt").write_text("x")
    infos = taggers_available()
    assert [i.name for i in infos] == ["a-model", "b-model", "broken"]
    a_model, b_model, broken = infos
    assert a_model.usable and (a_model.input_size, a_model.fixed_batch) == (32, None)
    assert (a_model.rating_tags, a_model.general_tags, a_model.character_tags) == (4, 6, 3)
    assert b_model.fixed_batch == 1 and len(b_model.sha256) == 64
    assert not broken.usable and "model.onnx is missing" in broken.error


def test_no_models_dir_lists_nothing(settings, tmp_path):
    settings.TAGGER_MODELS_DIR = tmp_path / "absent"
    assert taggers_available() == []


@pytest.mark.parametrize("name", ["missing", "..", "../tagger-models", "a/b", ".hidden", ""])
def test_unknown_names_and_paths_are_not_found(models_dir, name):
    (models_dir / ".hidden").mkdir()
    with pytest.raises(TaggerNotFound):
        tagger_named(name)


def test_folder_without_model_is_refused(models_dir):
    folder = models_dir / "no-model"
    folder.mkdir()
    write_labels(folder / "selected_tags.csv", tag_rows())
    assert refused("no-model") == "tagger model 'no-model': model.onnx is missing"


def test_folder_without_labels_is_refused(models_dir):
    folder = write_tagger(models_dir / "no-csv")
    (folder / "selected_tags.csv").unlink()
    assert refused("no-csv") == "tagger model 'no-csv': selected_tags.csv is missing"


def test_a_file_that_is_not_onnx_is_refused(models_dir):
    folder = write_tagger(models_dir / "junk")
    (folder / "model.onnx").write_bytes(b"\x89PNG not a model at all" * 10)
    assert "model.onnx is not an ONNX model onnxruntime can load" in refused("junk")


def test_output_width_must_match_the_csv(models_dir):
    write_tagger(models_dir / "wide", output_width=20)
    message = refused("wide")
    assert "outputs 20 scores per image but selected_tags.csv has 13 tags" in message


@pytest.mark.parametrize(
    ("model_args", "expected"),
    [
        ({"input_shape": ["batch", 3, 32, 32]}, "NHWC"),  # channels first
        ({"input_shape": ["batch", 32, 32]}, "NHWC"),  # no channel axis
        ({"input_shape": ["batch", 32, 24, 3]}, "NHWC"),  # not square
        ({"input_shape": ["batch", "h", "w", 3]}, "fixed size"),  # size not in the model
        ({"input_type": TensorProto.UINT8}, "takes floats"),
    ],
)
def test_an_input_that_is_not_an_nhwc_float_image_is_refused(models_dir, model_args, expected):
    write_tagger(models_dir / "odd-input", **model_args)
    assert expected in refused("odd-input")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag_id,name,category,count\n1,cat,7,10\n", "line 2: unknown category 7"),
        ("tag_id,name,category,count\n1,cat,0\n", "line 2: expected 4 fields, found 3"),
        ("tag_id,name,category,count\n1,cat,general,10\n", "line 2: tag_id, category and count"),
        ("tag_id,name,category,count\n1,,0,10\n", "line 2: the tag name is empty"),
        ("name,category\ncat,0\n", "the first line must be tag_id,name,category,count"),
        ("tag_id,name,category,count\n", "selected_tags.csv has no tags"),
    ],
)
def test_a_bad_csv_is_refused_naming_the_line(models_dir, text, expected):
    folder = write_tagger(models_dir / "bad-csv")
    (folder / "selected_tags.csv").write_text(text, encoding="utf-8")
    assert expected in refused("bad-csv")


def test_a_csv_that_is_not_utf8_is_refused(models_dir):
    folder = write_tagger(models_dir / "latin1")
    (folder / "selected_tags.csv").write_bytes(b"tag_id,name,category,count\n1,caf\xe9,0,1\n")
    assert "not a readable UTF-8 CSV" in refused("latin1")


def test_fixing_a_refused_folder_makes_it_usable(models_dir):
    folder = write_tagger(models_dir / "later", output_width=20)
    refused("later")
    write_tagger(folder)
    assert tagger_named("later").signature.tag_count == 13
