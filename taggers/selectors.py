"""Which tagger models the operator has put under TAGGER_MODELS_DIR, and whether they work."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from taggers.errors import BadTaggerModel, TaggerNotFound

if TYPE_CHECKING:
    from taggers.runtime import Tagger

# taggers.runtime (numpy and onnxruntime, ~65 ms) is imported where a model is
# looked at, not here: the admin imports this module in every process's
# set-up, manage.py commands that never run a model included.


@dataclass(frozen=True)
class TaggerInfo:
    name: str
    usable: bool
    # Why the folder is refused; empty when usable.
    error: str = ""
    input_size: int | None = None
    # None when the model takes batches of any size.
    fixed_batch: int | None = None
    tag_count: int | None = None
    rating_tags: int | None = None
    general_tags: int | None = None
    character_tags: int | None = None
    sha256: str = ""


_inspected: dict[Path, tuple[tuple, TaggerInfo]] = {}
_lock = threading.Lock()


def models_dir() -> Path:
    return Path(settings.TAGGER_MODELS_DIR)


def taggers_available() -> list[TaggerInfo]:
    """Every model folder, by name, with what it offers or why it is refused."""
    root = models_dir()
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [_inspect(folder) for folder in folders]


def tagger_info(name: str) -> TaggerInfo:
    """What the folder of that name offers, without keeping its model loaded in this process.

    TaggerNotFound when there is no such folder, BadTaggerModel (with the
    reason) when it is refused.
    """
    info = _inspect(_folder_named(name))
    if not info.usable:
        raise BadTaggerModel(info.error)
    return info


def tagger_named(name: str) -> Tagger:
    """The loaded tagger of that folder; TaggerNotFound or BadTaggerModel otherwise."""
    from taggers.runtime import load_tagger

    return load_tagger(_folder_named(name))


def execution_providers() -> list[str]:
    """The onnxruntime providers sessions are given, in order of preference."""
    from taggers.runtime import providers_available

    return providers_available()


def _folder_named(name: str) -> Path:
    root = models_dir()
    # Only a direct subfolder: a name is never a path (no "..", no separators).
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise TaggerNotFound(f"no tagger model named {name!r}")
    folder = root / name
    if not folder.is_dir():
        raise TaggerNotFound(f"no tagger model named {name!r}")
    return folder


def _inspect(folder: Path) -> TaggerInfo:
    # Listing checks each model by opening it once per process and then lets
    # the session go: a web process that only lists models keeps none in memory.
    from taggers.runtime import folder_stamp

    try:
        stamp = folder_stamp(folder)
    except BadTaggerModel as exc:
        return TaggerInfo(name=folder.name, usable=False, error=exc.message)
    with _lock:
        cached = _inspected.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
    info = _check(folder)
    with _lock:
        _inspected[folder] = (stamp, info)
    return info


def _check(folder: Path) -> TaggerInfo:
    from taggers.runtime import MODEL_FILE, check_folder, file_sha256

    try:
        labels, _session, signature = check_folder(folder)
    except BadTaggerModel as exc:
        return TaggerInfo(name=folder.name, usable=False, error=exc.message)
    counts = labels.counts()
    return TaggerInfo(
        name=folder.name,
        usable=True,
        input_size=signature.size,
        fixed_batch=signature.fixed_batch,
        tag_count=signature.tag_count,
        rating_tags=counts["rating"],
        general_tags=counts["general"],
        character_tags=counts["character"],
        sha256=file_sha256(folder / MODEL_FILE),
    )
