"""Generation metadata (prompt, model, sampler…) that Stable Diffusion tools embed in images.

Pure functions over data Pillow has already read: no decoding, no database.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from PIL import Image, PngImagePlugin
from sd_parsers.data import Prompt, PromptInfo
from sd_parsers.parsers import MANAGED_PARSERS, AUTOMATIC1111Parser, Parser

from images.prompt_syntax import prompt_text_tokens
from images.stealth import read_stealth_parameters

logger = logging.getLogger(__name__)

# We call the parsers ourselves instead of sd_parsers.ParserManager: its EXIF
# and stealth-PNG extractors cache the last image in module globals keyed by
# id(image), which races between threads and returns a previous image's
# prompt when CPython reuses the id; its DEFAULT eagerness also reads
# PngImageFile.text, a full decode for every PNG without metadata. Parser
# instances keep no per-image state, so sharing them across threads is safe.
_PARSERS: tuple[Parser, ...] = tuple(cls() for cls in MANAGED_PARSERS)
_INFOTEXT_PARSERS: tuple[Parser, ...] = (AUTOMATIC1111Parser(),)

_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
# Larger integers lose precision in JavaScript and in SQLite's JSON functions.
_JSON_SAFE_INT = 2**53 - 1
# Keep "raw" small: a ComfyUI graph can run to megabytes.
_RAW_MAX_CHARS = 16_384
_MAX_DEPTH = 12

_EMBEDDING = re.compile(r"^embedding:\S+$", re.IGNORECASE)  # ComfyUI textual inversion
_TAG_SEPARATORS = re.compile(r"[,\r\n]+")
_PARAMETERS_LINE = re.compile(r"^Steps: ", re.MULTILINE)


def split_tags(text: str) -> list[str]:
    """Split a caption on commas and newlines into stripped, non-empty tags."""
    return [tag for tag in (part.strip() for part in _TAG_SEPARATORS.split(text)) if tag]


def prompt_tokens(prompt: str) -> list[str]:
    """Split a positive prompt into raw tag tokens, read with A1111's prompt syntax
    (images.prompt_syntax: attention, scheduling, alternation, escapes, BREAK, AND,
    extra networks); ComfyUI's ``embedding:`` names are dropped."""
    return [tag for tag in prompt_text_tokens(prompt) if not _EMBEDDING.match(tag)]


def read_generation_metadata(info: Mapping[str, Any], exif: Image.Exif) -> dict[str, Any]:
    """Return the generation metadata found in an image's info and EXIF, or {}.

    Pass a loaded image's ``info``: PNG text chunks after the pixel data only
    reach it once the image is loaded. Never raises: a file whose metadata
    cannot be parsed is still a good image.
    """
    try:
        for candidate in _candidates(info, exif):
            parsed = _parse(candidate, _PARSERS)
            if parsed is not None:
                return _summarize(parsed)
    except Exception:
        logger.warning("unreadable generation metadata", exc_info=True)
    return {}


def read_stealth_metadata(image: Image.Image) -> dict[str, Any]:
    """Generation metadata hidden in a decoded image's pixels (A1111 stealth PNG), or {}.

    For an image whose chunks and EXIF gave nothing (read_generation_metadata
    returned {}): the pixels are read only then. Safe from several threads.
    Never raises.
    """
    try:
        text = read_stealth_parameters(image)
    except Exception:
        logger.warning("unreadable stealth parameters", exc_info=True)
        return {}
    return parse_infotext(text) if text and text.strip() else {}


def parse_infotext(text: str) -> dict[str, Any]:
    """Parse AUTOMATIC1111 infotext (prompt, ``Negative prompt:``, ``Steps: …``)."""
    try:
        parsed = _parse({"parameters": text}, _INFOTEXT_PARSERS)
        if parsed is not None:
            return _summarize(parsed)
    except Exception:
        logger.warning("unreadable infotext", exc_info=True)
    # Without a full parameters line sd-parsers gives up; the prompts still matter.
    prompts = _PARAMETERS_LINE.split(text, maxsplit=1)[0]
    prompt, _, negative = prompts.partition("Negative prompt:")
    fallback = {"generator": "AUTOMATIC1111", "prompt": prompt.strip()}
    fallback |= {"negative_prompt": negative.strip(), **_empty_fields()}
    return _json_safe(fallback)


def _candidates(info: Mapping[str, Any], exif: Image.Exif) -> Iterator[dict[str, Any]]:
    """Yield parameter dicts in the shapes the sd-parsers parsers expect."""
    text = {k: _fix_mojibake(v) for k, v in info.items() if isinstance(v, str)}
    if text:
        yield text  # PNG tEXt/zTXt/iTXt chunks
    comment = _user_comment(exif)
    if comment:
        yield {"parameters": comment}  # A1111 JPEG/WebP/AVIF
    jpeg_comment = info.get("comment")
    if isinstance(jpeg_comment, bytes) and jpeg_comment.strip():
        yield {"parameters": jpeg_comment.decode("utf-8", "replace")}  # JPEG COM segment


def _parse(parameters: dict[str, Any], parsers: tuple[Parser, ...]) -> PromptInfo | None:
    """Return the first parser's result, or None when no parser understands the data."""
    for parser in parsers:
        try:
            # A copy per parser: some parsers pop from the dict they are given.
            return parser.parse(dict(parameters))
        except Exception:  # parsers raise more than ParserError on odd data
            continue
    return None


def _fix_mojibake(value: str) -> str:
    """Undo UTF-8 written into a Latin-1 tEXt chunk, as some tools do."""
    if value.isascii() or isinstance(value, PngImagePlugin.iTXt):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _user_comment(exif: Image.Exif) -> str | None:
    """Decode the EXIF UserComment, whose 8-byte header names the encoding."""
    try:
        raw = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception:  # malformed EXIF is common and harmless here
        return None
    if isinstance(raw, str):
        return raw.strip("\x00").strip() or None
    if not isinstance(raw, bytes) or len(raw) <= 8:
        return None
    header, payload = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        text = payload.decode(_utf16_codec(payload), "replace")
    else:  # ASCII, undefined (all zeros) or JIS: UTF-8 is what generators write
        text = payload.decode("utf-8", "replace")
    return text.strip("\x00").strip() or None


def _utf16_codec(payload: bytes) -> str:
    """Guess UTF-16 byte order: piexif (A1111) writes big-endian, some tools little.

    Infotext is mostly ASCII, whose high byte is zero: where the zeros fall
    tells the order.
    """
    if payload[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return "utf-16-le" if payload[1::2].count(0) > payload[0::2].count(0) else "utf-16-be"


def _summarize(info: PromptInfo) -> dict[str, Any]:
    """Flatten sd-parsers' PromptInfo into the JSON dict stored on Image.metadata."""
    sampler = info.samplers[0] if info.samplers else None
    params: dict[str, Any] = dict(sampler.parameters) if sampler else {}
    extra = info.metadata if isinstance(info.metadata, dict) else {}
    model = next((s.model for s in info.samplers if s.model), None)
    summary = {
        "generator": info.generator.value,
        # Not PromptInfo.full_prompt: for Fooocus it is a list of expanded prompts.
        "prompt": _join(info.prompts),
        "negative_prompt": _join(info.negative_prompts),
        "model": model.name if model else None,
        "model_hash": model.hash if model else None,
        "seed": _as_seed(_first("seed", params, extra)),
        "steps": _as_int(_first("steps", params, extra)),
        "sampler": sampler.name if sampler else None,
        "cfg_scale": _as_float(_first("cfg_scale", params, extra)),
        "raw": _raw(params, extra),
    }
    return _json_safe(summary)


def _empty_fields() -> dict[str, Any]:
    keys = ("model", "model_hash", "seed", "steps", "sampler", "cfg_scale")
    return dict.fromkeys(keys) | {"raw": {}}


def _join(prompts: list[Prompt]) -> str:
    return ", ".join(p.value for p in prompts if p.value)


def _first(key: str, *sources: Mapping[str, Any]) -> Any:
    return next((s[key] for s in sources if s.get(key) is not None), None)


def _as_int(value: Any) -> int | None:
    """Read an integer that generators write as int, float or string."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, str) and "." in value else value
        return int(number) if float(number).is_integer() else None
    except (TypeError, ValueError, OverflowError):
        return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _as_seed(value: Any) -> int | str | None:
    """Keep seeds exact: an int when JSON-safe, else its decimal string."""
    seed = _as_int(value)
    if seed is None:
        return None
    return seed if abs(seed) <= _JSON_SAFE_INT else str(seed)


def _raw(params: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Keep the remaining parameters while they stay small."""
    for raw in ({"sampler_parameters": params, "extra": extra}, {"sampler_parameters": params}):
        safe = _json_safe(raw)
        if len(json.dumps(safe)) <= _RAW_MAX_CHARS:
            return safe
    return {}


def _json_safe(value: Any, depth: int = 0) -> Any:
    """Copy value as plain JSON: no NaN, no bytes, and no NUL (PostgreSQL refuses it)."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return str(value).replace("\x00", "")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return None
    return str(value)
