"""Loading a tagger folder into an onnxruntime session, checked, once per process.

A folder is usable when model.onnx is an ONNX model whose single input is an
NHWC image tensor (batch, size, size, 3) of floats and whose first output has
one column per row of selected_tags.csv. Anything else is refused with a
BadTaggerModel before any row is written, so a bad folder changes nothing.

Loaded taggers are cached per process, keyed by the folder and the files'
size and modification time: a model costs its load once per worker, not per
job or image, and replacing a file in the folder is noticed.
"""

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from taggers.errors import BadTaggerModel
from taggers.labels import Labels, read_labels

MODEL_FILE = "model.onnx"
LABELS_FILE = "selected_tags.csv"
# Batch size for models whose batch dimension is dynamic: large enough to keep
# both cores busy in the matrix kernels, small enough to bound memory.
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Signature:
    input_name: str
    output_name: str
    size: int
    # None when the batch dimension is dynamic.
    fixed_batch: int | None
    tag_count: int


@dataclass(frozen=True)
class Tagger:
    name: str
    folder: Path
    sha256: str
    signature: Signature
    labels: Labels
    session: ort.InferenceSession
    providers: tuple[str, ...]

    @property
    def batch_size(self) -> int:
        return self.signature.fixed_batch or DEFAULT_BATCH


def providers_available() -> list[str]:
    """CUDA first where onnxruntime has it, the CPU always."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


_cache: dict[Path, tuple[tuple, Tagger]] = {}
_lock = threading.Lock()


def load_tagger(folder: Path) -> Tagger:
    """The folder's tagger, loaded on first use in this process; BadTaggerModel if unusable."""
    folder = folder.resolve()
    with _in_folder(folder):
        stamp = _stamp(folder)
    with _lock, _in_folder(folder):
        cached = _cache.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
        tagger = _load(folder)
        _cache[folder] = (stamp, tagger)
        return tagger


def forget_taggers() -> None:
    """Drop every loaded session (tests; a worker that wants its memory back)."""
    with _lock:
        _cache.clear()


def _stamp(folder: Path) -> tuple:
    stamp = []
    for name in (MODEL_FILE, LABELS_FILE):
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            raise BadTaggerModel(f"{name} is missing") from None
        stamp.append((stat.st_size, stat.st_mtime_ns))
    return tuple(stamp)


def _load(folder: Path) -> Tagger:
    labels, session, signature = _check(folder)
    return Tagger(
        name=folder.name,
        folder=folder,
        sha256=file_sha256(folder / MODEL_FILE),
        signature=signature,
        labels=labels,
        session=session,
        providers=tuple(session.get_providers()),
    )


def check_folder(folder: Path) -> tuple[Labels, ort.InferenceSession, Signature]:
    """The folder's labels, session and signature, or BadTaggerModel saying what is wrong."""
    with _in_folder(folder):
        return _check(folder)


def _check(folder: Path) -> tuple[Labels, ort.InferenceSession, Signature]:
    _stamp(folder)
    labels = read_labels(folder / LABELS_FILE)
    session = _open_session(folder / MODEL_FILE)
    signature = read_signature(session)
    if signature.tag_count != len(labels):
        raise BadTaggerModel(
            f"the model outputs {signature.tag_count} scores per image"
            f" but {LABELS_FILE} has {len(labels)} tags"
        )
    return labels, session, signature


def folder_stamp(folder: Path) -> tuple:
    """What identifies the folder's files for the caches: their sizes and modification times."""
    with _in_folder(folder):
        return _stamp(folder)


@contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    """Name the model folder in every refusal, so the operator knows which one to fix."""
    try:
        yield
    except BadTaggerModel as exc:
        raise BadTaggerModel(f"tagger model {folder.name!r}: {exc.message}") from None


def _open_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # onnxruntime prints its own warnings to stderr; our errors say what matters.
    options.log_severity_level = 3
    # Idle pool threads sleep instead of spinning between operators: a spinning
    # thread holds a core the web server's requests are waiting for.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=providers_available())
    except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidProtobuf
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise BadTaggerModel(
            f"{path.name} is not an ONNX model onnxruntime can load"
            f" ({type(exc).__name__}: {first_line})"
        ) from None


def read_signature(session: ort.InferenceSession) -> Signature:
    """Check that the session takes NHWC float images and yields one score row per image."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise BadTaggerModel(f"the model takes {len(inputs)} inputs; a tagger takes one image")
    image = inputs[0]
    shape = list(image.shape)
    channels_last = len(shape) == 4 and shape[3] == 3
    square = len(shape) == 4 and isinstance(shape[1], int) and shape[1] == shape[2]
    if not (channels_last and square and shape[1] > 0):
        raise BadTaggerModel(
            f"the model's input {image.name!r} has shape {shape}; a WD14 tagger takes"
            " NHWC images (batch, size, size, 3) with a fixed size"
        )
    if image.type != "tensor(float)":
        raise BadTaggerModel(f"the model's input is {image.type}; a WD14 tagger takes floats")
    if not outputs:
        raise BadTaggerModel("the model has no output")
    scores = outputs[0]
    out_shape = list(scores.shape)
    if len(out_shape) != 2 or not isinstance(out_shape[1], int):
        raise BadTaggerModel(
            f"the model's output {scores.name!r} has shape {out_shape};"
            " a WD14 tagger outputs (batch, tags) with a fixed tag count"
        )
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    return Signature(
        input_name=image.name,
        output_name=scores.name,
        size=shape[1],
        fixed_batch=batch,
        tag_count=out_shape[1],
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_batch(tagger: Tagger, batch: np.ndarray) -> np.ndarray:
    """Scores (images × tags, float32) for a preprocessed NHWC batch, split to a fixed batch."""
    signature = tagger.signature
    if signature.fixed_batch is None:
        return _run(tagger, batch)
    step = signature.fixed_batch
    rows = []
    for start in range(0, len(batch), step):
        chunk = batch[start : start + step]
        short = step - len(chunk)
        if short:
            # A fixed-batch model takes exactly `step` images: pad with white, drop after.
            chunk = np.concatenate([chunk, np.full((short, *chunk.shape[1:]), 255, np.float32)])
        rows.append(_run(tagger, chunk)[: step - short])
    return np.concatenate(rows)


def _run(tagger: Tagger, batch: np.ndarray) -> np.ndarray:
    signature = tagger.signature
    (scores,) = tagger.session.run([signature.output_name], {signature.input_name: batch})
    return np.asarray(scores, dtype=np.float32)
