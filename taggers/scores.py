"""Raw scores, stored compactly: uint16 steps of 1/65535, zlib-compressed.

A WD14 tagger's outputs are sigmoid probabilities in [0, 1]. Sixteen-bit
steps keep every score within 7.7e-6 of what the model said (float16 would
be ~5e-4 near 1, where the character threshold lives). Most scores are near
zero, so zlib takes part of their high bytes away: 10,861 tags, 21.7 KB raw,
stored in ~15.6 KB on the bench model's (mostly near-zero) scores.
"""

import zlib

import numpy as np

STEPS = 65535


def encode_scores(scores: np.ndarray) -> bytes:
    quantized = np.rint(np.clip(scores, 0.0, 1.0) * STEPS).astype("<u2")
    return zlib.compress(quantized.tobytes(), level=1)


def decode_scores(blob: bytes, tag_count: int) -> np.ndarray:
    quantized = np.frombuffer(zlib.decompress(bytes(blob)), dtype="<u2")
    if quantized.size != tag_count:
        raise ValueError(f"stored scores hold {quantized.size} tags, the model has {tag_count}")
    return quantized.astype(np.float32) / STEPS
