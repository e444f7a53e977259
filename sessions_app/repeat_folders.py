"""kohya's DreamBooth repeat folders: `10_ohwx/` is 10 repeats of the class token `ohwx`.

sd-scripts (library/config_util.py, generate_dreambooth_subsets_config_by_subdirs)
splits a folder's name at "_": the first part, read as an integer, is the
repeats, the rest joined back with "_" the class tokens. A folder whose first
part is no integer, or under 1, is not a subset (sd-scripts ignores it). It
reads only the images directly inside such a folder, so only an image's own
folder counts.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from tagger_project.errors import InvalidInput

MAX_NAME_LENGTH = 100
MAX_CLASS_TOKENS_LENGTH = 200
# Far past any real dataset (people use 1-100); keeps the TOML an int32.
MAX_REPEATS = 10_000
# Characters a folder name cannot hold on Windows, macOS or Linux.
_FORBIDDEN = frozenset('<>:"/\\|?*')


@dataclass(frozen=True)
class RepeatFolder:
    num_repeats: int
    name: str

    @property
    def folder(self) -> str:
        return f"{self.num_repeats}_{self.name}"


def parse_repeat_folder(folder: str) -> RepeatFolder | None:
    """The repeats and name of a folder called `<repeats>_<name>`; None when it is not one.

    A name the session could not hold (too long, a character a folder cannot
    have) makes it no subset either: the image imports flat.
    """
    head, sep, rest = folder.partition("_")
    if not sep or not head.isascii() or not head.isdigit():
        return None
    repeats = int(head)
    if not 1 <= repeats <= MAX_REPEATS:
        return None
    try:
        return RepeatFolder(repeats, check_subset_name(rest))
    except InvalidInput:
        return None


def repeat_folder_of(relative_path: str) -> RepeatFolder | None:
    """The repeat folder an image at `relative_path` (POSIX or Windows slashes) sits directly in."""
    parts = PurePosixPath(relative_path.replace("\\", "/")).parts
    return parse_repeat_folder(parts[-2]) if len(parts) >= 2 else None


def check_subset_name(name: str) -> str:
    """The name unchanged, or InvalidInput saying why it cannot name a folder."""
    if not name or not name.strip():
        raise InvalidInput("a subset needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"a subset name has at most {MAX_NAME_LENGTH} characters (this one {len(name)})",
            details=[{"max_length": MAX_NAME_LENGTH}],
        )
    bad = next((ch for ch in name if ch in _FORBIDDEN or unicodedata.category(ch)[0] == "C"), None)
    if bad is not None:
        raise InvalidInput(
            f"a subset name is a folder name: it may not hold {bad!r}",
            details=[{"character": bad}],
        )
    if name != name.strip(" .") or name in (".", ".."):
        raise InvalidInput("a subset name may not start or end with a space or a dot")
    return name


def check_repeats(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPEATS:
        raise InvalidInput(
            f"repeats is a whole number from 1 to {MAX_REPEATS}",
            details=[{"min": 1, "max": MAX_REPEATS}],
        )
    return value


def check_class_tokens(text: str) -> str:
    if len(text) > MAX_CLASS_TOKENS_LENGTH:
        raise InvalidInput(
            f"class tokens have at most {MAX_CLASS_TOKENS_LENGTH} characters",
            details=[{"max_length": MAX_CLASS_TOKENS_LENGTH}],
        )
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidInput("class tokens may not hold control characters")
    return text
