"""Safe, unique file names for exported images and their sidecars.

An original name comes from a user's disk or upload and can be anything:
`../../etc/passwd.png`, `/abs.png`, `C:\\x\\a.png`, control characters,
Windows device names, 300 characters. Exported names are a bare file name
(no folders), printable, without characters Windows refuses, bounded in
bytes, and unique ignoring case (on disk `a.png` and `A.png` are often the
same file), by stem, since `a.png` and `a.jpg` both need the caption `a.txt`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from images.models import Image

# Windows refuses these as a file's stem, with any extension.
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
_FORBIDDEN = frozenset('<>:"/\\|?*')
# Room for "-12345", the image extension and a sidecar suffix such as
# ".jpeg.txt" under the usual 255-byte limit of a file name.
MAX_STEM_BYTES = 150
FALLBACK_STEM = "image"

# The extensions trainers and viewers expect per stored format; the first is used
# when the original name has none of them.
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "MPO": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "GIF": (".gif",),
    "BMP": (".bmp",),
    "AVIF": (".avif",),
}


@dataclass(frozen=True)
class Renamed:
    """An image exported under another name than its original one, and why."""

    image_id: int
    original: str
    exported: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "image_id": self.image_id,
            "original": self.original,
            "exported": self.exported,
            "reason": self.reason,
        }


def split_name(original: str) -> tuple[str, str]:
    """(stem, extension) of the last path component; a leading dot is not an extension."""
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    if dot <= 0:
        return base, ""
    return base[:dot], base[dot:]


def safe_stem(stem: str) -> str:
    """A stem that is a safe file name on Linux, macOS and Windows, never empty."""
    text = unicodedata.normalize("NFC", stem)
    text = "".join(_safe_char(ch) for ch in text)
    text = re.sub(r"\s+", " ", text)
    # Leading dots hide a file (and spell ".."); Windows drops trailing dots and spaces.
    text = _truncate_utf8(text.strip(" ."), MAX_STEM_BYTES).strip(" .")
    if not text:
        return FALLBACK_STEM
    if text.split(".", 1)[0].strip().upper() in _DEVICE_NAMES:
        text = "_" + text
    return text


def _safe_char(ch: str) -> str:
    """Whitespace becomes a space, reserved punctuation "_", other invisible characters go.

    Unicode category C covers control, format, surrogate, private-use and unassigned.
    """
    if ch.isspace():
        return " "
    if ch in _FORBIDDEN:
        return "_"
    return "" if unicodedata.category(ch)[0] == "C" else ch


def image_extension(image: Image, original_extension: str) -> str:
    """The original extension when it fits the stored format, else the format's own."""
    allowed = FORMAT_EXTENSIONS.get(image.format.upper())
    if allowed is None:
        stored = split_name(image.file.name or "")[1].lower()
        allowed = (stored,) if re.fullmatch(r"\.[a-z0-9]{1,8}", stored) else (".bin",)
    if original_extension.lower() in allowed:
        return original_extension
    return allowed[0]


class NameAllocator:
    """Hands out unique export names, remembering each rename for the report."""

    def __init__(self, reserved_stems: tuple[str, ...] = ()) -> None:
        self._taken: set[str] = {stem.casefold() for stem in reserved_stems}
        self.renamed: list[Renamed] = []

    def image_name(self, image: Image, name: str = "") -> str:
        """A unique `stem.ext` for the image, named `name` in its session.

        Its sidecars share the stem.
        """
        original = name or image.original_name
        raw_stem, raw_extension = split_name(original)
        stem = safe_stem(raw_stem)
        extension = image_extension(image, raw_extension)
        reasons = []
        if stem != raw_stem or "/" in original or "\\" in original:
            reasons.append("unsafe name")
        if extension != raw_extension:
            reasons.append(f"extension does not match {image.format}")
        unique = self._claim(stem)
        if unique != stem:
            reasons.append("same name as an earlier image")
        name = unique + extension
        if reasons:
            self.renamed.append(Renamed(image.pk, original, name, "; ".join(reasons)))
        return name

    def _claim(self, stem: str) -> str:
        candidate, counter = stem, 1
        while candidate.casefold() in self._taken:
            counter += 1
            suffix = f"-{counter}"
            candidate = _truncate_utf8(stem, MAX_STEM_BYTES - len(suffix)).rstrip(" .") + suffix
        self._taken.add(candidate.casefold())
        return candidate


def _truncate_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")
