"""AUTOMATIC1111's prompt syntax, read the way its modules/prompt_parser.py reads it,
to turn an embedded prompt into tag tokens.

What A1111 reads, and what becomes of it here:

- `(a, b:1.2)`, `((a))`, `[a]`: attention. The brackets and the weight go; the
  commas inside still separate tags, so the group gives `a` and `b`.
- `[a:b:0.5]`, `[a:0.5]`, `[:b:5]`, `[a::5]`: scheduling (a until a step,
  then b). `[a|b|c]`: alternation. Each non-empty branch is its own tag (a
  schedule inside a word, `a[b:c:1]d`, splits that word there).
- `\\(` `\\)` `\\[` `\\]` `\\\\`: literal characters. They stay escaped in the token,
  so that normalizing it (tags.normalize unescapes) keeps them as text:
  `pokemon \\(creature\\)` is the tag `pokemon (creature)`.
- `BREAK` (a chunk break) and `AND` (composable prompts, each with an optional
  trailing `:weight`) separate tags; `<lora:…>`, `<hypernet:…>`, `<lyco:…>`
  (extra networks, which A1111 removes before parsing) are dropped.
- A `)` or `]` that closes nothing is text, as in A1111; an opening bracket
  that is never closed is dropped, its text kept (A1111 weights it to the end).

One deliberate difference: A1111 takes `:1.2` as a weight only right before
the `)` (`(a: 1.2 )` is the text `a: 1.2 ` to it); whitespace around the
number is allowed here, as prompts are often written that way and a tagger has
no use for a tag called `a: 1.2`.
"""

from __future__ import annotations

import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXTRA_NETWORK = re.compile(r"<[a-zA-Z_]\w*:[^<>]*>")
# modules/prompt_parser.py: re_AND and re_weight (a subprompt's trailing weight).
_AND = re.compile(r"\bAND\b")
_SUBPROMPT_WEIGHT = re.compile(r"\s*:\s*[-+]?(?:\d+\.?|\d*\.\d+)\s*$")
_BREAK = re.compile(r"\s*\bBREAK\b\s*")
_GROUP_WEIGHT = re.compile(rf":\s*{_NUMBER}\s*$")
_SCHEDULE_STEP = re.compile(rf"^\s*{_NUMBER}\s*$")
_CLOSING = {"(": ")", "[": "]"}
# Separates tags in the flattened text; split_tags splits on it like on commas.
_SEPARATOR = "\n"


def prompt_text_tokens(prompt: str) -> list[str]:
    """The prompt's tag tokens, in order: attention, scheduling and networks removed."""
    text = _EXTRA_NETWORK.sub(",", prompt)
    tokens: list[str] = []
    for subprompt in _AND.split(text):
        flat = _flatten(_SUBPROMPT_WEIGHT.sub("", subprompt))
        flat = _BREAK.sub(_SEPARATOR, flat)
        tokens += [token.strip() for token in re.split(r"[,\r\n]+", flat) if token.strip()]
    return tokens


def _flatten(text: str) -> str:
    """The text with its groups opened, each alternative or schedule branch apart."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index : index + 2])
            index += 2
        elif char in _CLOSING:
            close = _matching(text, index)
            if close is None:
                index += 1  # never closed: the bracket goes, its text stays
                continue
            out.append(_group(char, text[index + 1 : close]))
            index = close + 1
        elif char in ")]":
            out.append("\\" + char)  # closes nothing: text, as A1111 keeps it
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _group(opening: str, inner: str) -> str:
    if opening == "(":
        return _flatten(_GROUP_WEIGHT.sub("", inner) if _top_level(inner, ":") else inner)
    alternatives = _split_top_level(inner, "|")
    if len(alternatives) > 1:
        return _SEPARATOR.join(_flatten(part) for part in alternatives)
    parts = _split_top_level(inner, ":")
    if len(parts) in (2, 3) and _SCHEDULE_STEP.match(parts[-1]):
        return _SEPARATOR.join(_flatten(part) for part in parts[:-1])
    return _flatten(inner)


def _matching(text: str, start: int) -> int | None:
    """Where the bracket at `start` closes (same kind, nested, escapes skipped), or None."""
    opening, closing = text[start], _CLOSING[text[start]]
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        depth += (char == opening) - (char == closing)
        if depth == 0:
            return index
        index += 1
    return None


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside any bracket and escape."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def _top_level(text: str, char: str) -> bool:
    return len(_split_top_level(text, char)) > 1
