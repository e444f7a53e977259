"""A session of stored images and a tiny tagger model folder, for the jobs tests."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from images.services import image_process_bytes, image_store
from sessions_app import services as session_services
from taggers.runtime import forget_taggers
from tests.support.taggers import write_tagger

MODEL = "wd-tiny"


def png(seed: int, size=(40, 30)) -> bytes:
    """A noisy PNG whose channel means, and so the tiny model's scores, differ per seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    pixels[..., seed % 3] //= 4
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def store_images(session, actor, count: int, *, start: int = 0) -> list:
    images = []
    for seed in range(start, start + count):
        image, _ = image_store(
            image_process_bytes(png(seed)), original_name=f"img{seed}.png", actor=actor
        )
        images.append(image)
    session_services.session_images_add(session, actor=actor, images=images)
    return images


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def models_dir(tmp_path, settings):
    root = tmp_path / "tagger-models"
    write_tagger(root / MODEL)
    settings.TAGGER_MODELS_DIR = root
    yield root
    forget_taggers()


@pytest.fixture
def stored(session, alice, media, models_dir):
    """Six stored images in alice's session, and the tiny model installed."""
    return store_images(session, alice, 6)
