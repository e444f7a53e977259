"""Per-image cost of images.processing against plain Pillow, and of sd-parsers' ParserManager.

Run: .venv/bin/python bench/processing_micro.py [repeats]
Prints medians in milliseconds per image, one core, with its own baseline.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, PngImagePlugin
from sd_parsers import Eagerness, ParserManager

from images.processing import process_image_bytes

INFOTEXT = (
    "masterpiece, best quality, 1girl, solo, red hair, <lora:style:0.8>\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 1152x896, "
    "Model hash: 0123456789, Model: someModel_v1"
)
LIMITS = {"max_pixels": 100_000_000, "max_bytes": 200 * 1024 * 1024}


def photo_like(size: tuple[int, int]) -> Image.Image:
    """Draw gradients plus noise: compresses like a photo, unlike flat colour or pure noise."""
    channels = [
        Image.linear_gradient("L").resize(size),
        Image.radial_gradient("L").resize(size),
        Image.linear_gradient("L").rotate(90).resize(size),
    ]
    base = Image.merge("RGB", channels)
    grain = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(base, grain, 0.15)


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def samples() -> dict[str, bytes]:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", INFOTEXT)
    one_mp, twelve_mp = photo_like((1152, 896)), photo_like((4000, 3000))
    return {
        "1 MP JPEG": encode(one_mp, "JPEG", quality=90),
        "12 MP JPEG": encode(twelve_mp, "JPEG", quality=90),
        "1 MP PNG + parameters": encode(one_mp, "PNG", pnginfo=info),
        "1 MP PNG, no metadata": encode(one_mp, "PNG"),
    }


def plain_pillow(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((256, 256))
        return encode(im.convert("RGB"), "JPEG", quality=85)


def ours(data: bytes) -> object:
    return process_image_bytes(data, **LIMITS)


def parser_manager(eagerness: Eagerness) -> Callable[[bytes], object]:
    manager = ParserManager(eagerness=eagerness)

    def parse(data: bytes) -> object:
        with Image.open(io.BytesIO(data)) as im:
            return manager.parse(im)

    return parse


def median_ms(step: Callable[[bytes], object], data: bytes, repeats: int) -> float:
    step(data)  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def throughput(step: Callable[[bytes], object], data: bytes, workers: int, count: int) -> float:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        list(pool.map(step, [data] * count))
        return count / (time.perf_counter() - start)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    steps: dict[str, Callable[[bytes], object]] = {
        "plain Pillow open+thumbnail+save": plain_pillow,
        "process_image_bytes": ours,
        "ParserManager FAST (metadata only)": parser_manager(Eagerness.FAST),
        "ParserManager DEFAULT (metadata only)": parser_manager(Eagerness.DEFAULT),
    }
    data = samples()
    print(f"median ms per image, {repeats} runs; sizes: ", end="")
    print(", ".join(f"{name} {len(blob) // 1024} KiB" for name, blob in data.items()))
    print(f"{'step':40}" + "".join(f"{name:>24}" for name in data))
    for label, step in steps.items():
        row = (median_ms(step, blob, repeats) for blob in data.values())
        print(f"{label:40}" + "".join(f"{ms:24.2f}" for ms in row))
    print("\nprocess_image_bytes images/s, 1 thread vs 2 threads:")
    for name, blob in data.items():
        count = 4 * repeats
        one, two = (throughput(ours, blob, workers, count) for workers in (1, 2))
        print(f"  {name:24} {one:7.1f} {two:7.1f}  ({two / one:.2f}x)")


if __name__ == "__main__":
    main()
