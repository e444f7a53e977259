"""Predictions per image content and model: inferred once, read back ever after."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from PIL import Image as PILImage

from images.models import Image
from taggers.models import Prediction, TaggerModel
from taggers.preprocessing import prepare_image
from taggers.runtime import Tagger, run_batch
from taggers.scores import decode_scores, encode_scores

LOOKUP_SLICE = 900


@dataclass
class Predictions:
    # Raw scores per image id, in the model's output order (see tagger.labels).
    scores: dict[int, np.ndarray] = field(default_factory=dict)
    # Image ids whose file could not be read or decoded, with the reason.
    failed: dict[int, str] = field(default_factory=dict)
    # How many images this call ran through the model (the rest were stored).
    inferred: int = 0


def tagger_model_row(tagger: Tagger) -> TaggerModel:
    """The row of this folder's current model file, created on first use."""
    row, _ = TaggerModel.objects.get_or_create(
        name=tagger.name,
        sha256=tagger.sha256,
        defaults={"input_size": tagger.signature.size, "tag_count": tagger.signature.tag_count},
    )
    return row


def predictions_for(images: Sequence[Image], tagger: Tagger) -> Predictions:
    """Scores of `tagger` for each image, inferring (in batches) only those not stored yet.

    Each batch is stored as it completes, so work done survives an interrupted
    call; a concurrent call for the same images stores each prediction once.
    Every score comes back in memory (43 KB an image for 10,861 tags): pass a
    job's chunk of images, not a whole library.
    """
    row = tagger_model_row(tagger)
    result = Predictions()
    wanted = {image.pk: image for image in images}
    for image_id, blob in _stored(row, list(wanted)):
        result.scores[image_id] = decode_scores(blob, row.tag_count)
    missing = [image for image_id, image in wanted.items() if image_id not in result.scores]
    for batch_images, batch in _batches(missing, tagger, result.failed):
        blobs = [encode_scores(image_scores) for image_scores in run_batch(tagger, batch)]
        _store(row, batch_images, blobs)
        for image, blob in zip(batch_images, blobs, strict=True):
            # Read back as stored, so a second run selects from the very same numbers.
            result.scores[image.pk] = decode_scores(blob, row.tag_count)
        result.inferred += len(batch_images)
    return result


def stored_scores(tagger: Tagger, image_ids: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(image id, scores) of the images `tagger` has a stored prediction for, in slices.

    Decoded one at a time, so a caller walking a whole session holds one
    image's scores at once, not the library's.
    """
    row = tagger_model_row(tagger)
    for image_id, blob in _stored(row, list(image_ids)):
        yield image_id, decode_scores(blob, row.tag_count)


def predicted_ids(tagger: Tagger, image_ids: Sequence[int]) -> set[int]:
    """Those of the images that `tagger` has a stored prediction for."""
    row = tagger_model_row(tagger)
    found: set[int] = set()
    ids = list(image_ids)
    for start in range(0, len(ids), LOOKUP_SLICE):
        found.update(
            Prediction.objects.filter(
                tagger=row, image_id__in=ids[start : start + LOOKUP_SLICE]
            ).values_list("image_id", flat=True)
        )
    return found


def _stored(row: TaggerModel, image_ids: list[int]) -> Iterator[tuple[int, bytes]]:
    # In slices, so no database meets more bound parameters than it accepts.
    for start in range(0, len(image_ids), LOOKUP_SLICE):
        yield from Prediction.objects.filter(
            tagger=row, image_id__in=image_ids[start : start + LOOKUP_SLICE]
        ).values_list("image_id", "scores")


def _batches(
    images: list[Image], tagger: Tagger, failed: dict[int, str]
) -> Iterator[tuple[list[Image], np.ndarray]]:
    size, step = tagger.signature.size, tagger.batch_size
    batch = np.empty((step, size, size, 3), dtype=np.float32)
    taken: list[Image] = []
    for image in images:
        try:
            batch[len(taken)] = _prepared(image, size)
        except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
            failed[image.pk] = f"cannot read {image.original_name}: {exc}"
            continue
        taken.append(image)
        if len(taken) == step:
            yield taken, batch
            taken = []
    if taken:
        yield taken, batch[: len(taken)]


def _prepared(image: Image, size: int) -> np.ndarray:
    with image.file.open("rb") as handle, PILImage.open(handle) as picture:
        return prepare_image(picture, size)


@transaction.atomic
def _store(row: TaggerModel, images: list[Image], blobs: list[bytes]) -> None:
    Prediction.objects.bulk_create(
        [
            Prediction(image=image, tagger=row, scores=blob)
            for image, blob in zip(images, blobs, strict=True)
        ],
        # Another worker may have stored the same image meanwhile: its row stands.
        ignore_conflicts=True,
    )
