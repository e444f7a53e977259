"""Where the real-world sample files live: copied into the checkout, never read from beside it."""

from pathlib import Path

# tests/samples/ holds the sd-parsers test images (MIT, tests/samples/LICENSE-sd-parsers.txt).
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
