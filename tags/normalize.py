"""Tag-name normalization: the one function every tag name passes through.

`normalize_tag_name` is pure (no database); alias resolution on top of it is
`tags.selectors.resolve_tag_names`. Normalizing twice equals normalizing once,
and a normalized name survives a caption round trip (join with ", ", split
on ",", normalize again).
"""

import re
import unicodedata

from tagger_project.errors import InvalidInput
from tags.models import MAX_TAG_LENGTH


class InvalidTagName(InvalidInput):
    """A tag name that cannot be normalized into a valid one."""

    code = "invalid_tag"

    def __init__(self, raw: str, reason: str) -> None:
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        super().__init__(f"invalid tag {shown!r}: {reason}", details=[{"tag": shown}])
        self.raw = raw
        self.reason = reason


# Danbooru emoticon tags: underscores and case are part of the name, and the
# brackets are not weight syntax.
# fmt: off
EMOTICONS = frozenset(
    {
        "^_^", ">_<", ">_o", "o_o", "0_0", "+_+", "+_-", "-_-", "=_=", "@_@", "u_u", "x_x",
        "t_t", "._.", "3_3", "6_9", "|_|", "||_||", "<o>_<o>", "<|>_<|>", "(o)_(o)", "^^^",
        ":d", ":D", ":o", ":O", ":p", ":P", ":q", ":3", ":<", ":>", ";d", ";D", ";)", ":)",
        ":(", ";o", ";p", ";3", "xd", "XD", ">:)", ">:(", "d:", "D:", "c:", ":/", ":|", "=)",
        "=(", ":t", "|d", "^o^", "^q^",
    }
)
# fmt: on

_WEIGHTED = re.compile(r"^\((?P<inner>.*):\s*-?\d+(?:\.\d+)?\s*\)$", re.DOTALL)
_WRAPPERS = (("(", ")"), ("[", "]"), ("{", "}"))
_ESCAPED = re.compile(r"\\([()\[\]{}])")
_WHITESPACE = re.compile(r"\s+")


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


def _wraps_whole(text: str, opening: str, closing: str) -> bool:
    """True when the first bracket closes at the last character, as in "(a (b))"."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        return False
    depth = 0
    for index, char in enumerate(text):
        depth += (char == opening) - (char == closing)
        if depth == 0:
            return index == len(text) - 1
    return False


def _strip_weight_syntax(text: str) -> str:
    """Remove A1111 / NovelAI emphasis wrapped around the whole name."""
    while text and text not in EMOTICONS:
        weighted = _WEIGHTED.match(text)
        if weighted and _wraps_whole(text, "(", ")"):
            text = weighted.group("inner").strip()
            continue
        for opening, closing in _WRAPPERS:
            if _wraps_whole(text, opening, closing):
                text = text[1:-1].strip()
                break
        else:
            return text
    return text


def _normalize_once(text: str) -> str:
    text = text.strip()
    if text in EMOTICONS:
        return text
    text = _ESCAPED.sub(r"\1", text)
    text = _strip_weight_syntax(text)
    if text in EMOTICONS:
        return text
    text = text.replace("_", " ")
    text = _WHITESPACE.sub(" ", text).strip()
    return text.lower()


# Most names of a booru vocabulary (lowercase words joined by `_` or spaces) are
# already canonical but for their underscores: answered without the passes
# below, which cost ~16 µs a name (~2.3 s of a 170,000-name import).
_PLAIN = re.compile(r"[a-z0-9]+(?:[_ ][a-z0-9]+)*")


def normalize_tag_name(raw: str) -> str:
    """Return the canonical spelling of a tag name, or raise InvalidTagName."""
    if (
        isinstance(raw, str)
        and len(raw) <= MAX_TAG_LENGTH
        and _PLAIN.fullmatch(raw)
        and raw not in EMOTICONS
    ):
        return raw.replace("_", " ")
    return _normalize_fully(raw)


def _normalize_fully(raw: str) -> str:
    if not isinstance(raw, str):
        raise InvalidTagName(str(raw), "a tag name must be text")
    if _has_control_chars(raw.replace("\t", " ").replace("\n", " ").replace("\r", " ")):
        raise InvalidTagName(raw, "control characters are not allowed")
    if "\n" in raw or "\r" in raw:
        raise InvalidTagName(raw, "a tag name must be on one line")
    text = unicodedata.normalize("NFC", raw)
    # Each pass can expose more syntax (an escape inside a wrapper); stop at
    # the fixed point so that normalizing is idempotent.
    for _ in range(8):
        following = _normalize_once(text)
        if following == text:
            break
        text = following
    else:
        raise InvalidTagName(raw, "too deeply nested weight syntax")
    if not text:
        raise InvalidTagName(raw, "a tag name cannot be empty")
    if "," in text:
        raise InvalidTagName(raw, "a tag name cannot contain a comma (commas separate tags)")
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidTagName(raw, f"longer than {MAX_TAG_LENGTH} characters")
    return text


def split_caption(caption: str) -> list[str]:
    """Split a caption into raw tag tokens on commas and newlines, dropping blanks."""
    return [token.strip() for token in re.split(r"[,\n\r]", caption) if token.strip()]
