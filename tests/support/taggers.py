"""Tiny WD14-signature tagger models, built at test time with the `onnx` package.

The model averages the image's three channels and maps them through one
matrix and a sigmoid: cheap, deterministic, and sensitive to every input
pixel and to the channel order, so a preprocessing or BGR mistake changes
its scores. Nothing is downloaded.
"""

import csv
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from taggers.labels import CHARACTER, GENERAL, RATING

INPUT_NAME = "input_1:0"
OUTPUT_NAME = "predictions_sigmoid"


def tag_rows(general: int = 6, character: int = 3) -> list[tuple[str, int]]:
    """(name, category) rows as WD14 lays them out: four ratings, general, then characters."""
    ratings = [(name, RATING) for name in ("general", "sensitive", "questionable", "explicit")]
    generals = [(f"general_tag_{i}", GENERAL) for i in range(general - 1)] + [(">_<", GENERAL)]
    characters = [(f"character_{i}_(series)", CHARACTER) for i in range(character)]
    return ratings + generals + characters


def write_labels(path: Path, rows: list[tuple[str, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for index, (name, category) in enumerate(rows):
            writer.writerow([1000 + index, name, category, 5000 - index])


def weights(tag_count: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """The matrix (3 × tags) and bias the model applies to the channel means (0–255)."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0, 0.04, size=(3, tag_count)).astype(np.float32)
    bias = rng.normal(-3, 2, size=tag_count).astype(np.float32)
    return matrix, bias


def expected_scores(batch: np.ndarray, tag_count: int) -> np.ndarray:
    """What the tiny model computes, in numpy, for a preprocessed NHWC batch."""
    matrix, bias = weights(tag_count)
    means = batch.astype(np.float64).mean(axis=(1, 2))
    return 1 / (1 + np.exp(-(means @ matrix + bias)))


def tiny_model(
    tag_count: int,
    *,
    size: int = 32,
    batch: int | str = "batch",
    input_shape: list | None = None,
    input_type: int = TensorProto.FLOAT,
    output_width: int | None = None,
) -> onnx.ModelProto:
    """A model with the WD14 signature (NHWC float input, (batch, tags) sigmoid output)."""
    shape = input_shape or [batch, size, size, 3]
    matrix, bias = weights(output_width or tag_count)
    nodes = []
    source = INPUT_NAME
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [INPUT_NAME], ["as_float"], to=TensorProto.FLOAT))
        source = "as_float"
    # Average over every axis but the batch and the last: NHWC → (batch, 3).
    axes = list(range(1, len(shape) - 1))
    nodes += [
        helper.make_node("ReduceMean", [source, "axes"], ["means"], keepdims=0),
        helper.make_node("MatMul", ["means", "matrix"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], [OUTPUT_NAME]),
    ]
    last = shape[-1] if isinstance(shape[-1], int) else 3
    if last != 3:
        matrix = np.resize(matrix, (last, matrix.shape[1])).astype(np.float32)
    graph = helper.make_graph(
        nodes,
        "tiny_wd14",
        [helper.make_tensor_value_info(INPUT_NAME, input_type, shape)],
        [
            helper.make_tensor_value_info(
                OUTPUT_NAME, TensorProto.FLOAT, [shape[0], matrix.shape[1]]
            )
        ],
        initializer=[
            numpy_helper.from_array(np.array(axes, dtype=np.int64), "axes"),
            numpy_helper.from_array(matrix, "matrix"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_tagger(folder: Path, *, rows: list[tuple[str, int]] | None = None, **model_args) -> Path:
    """A model folder (model.onnx + selected_tags.csv) under `folder`, created if needed."""
    rows = rows or tag_rows()
    folder.mkdir(parents=True, exist_ok=True)
    write_labels(folder / "selected_tags.csv", rows)
    onnx.save(tiny_model(len(rows), **model_args), folder / "model.onnx")
    return folder
