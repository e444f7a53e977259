"""CLIP token counts: how much of the 75-token prompt window a caption uses.

A faithful port of CLIP's `simple_tokenizer` (the tokenizer Stable Diffusion's
text encoder uses), without torch: text cleaned with ftfy and HTML unescaping,
lower-cased, split by CLIP's pattern, each piece byte-encoded and merged with
the real BPE vocabulary shipped in `tags/data/` (MIT, see LICENSE-CLIP.txt).
The start and end tokens are not counted, as trainers and UIs report it.
"""

from __future__ import annotations

import gzip
import html
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path

import ftfy
import regex

CLIP_TOKEN_LIMIT = 75
VOCAB_PATH = Path(__file__).resolve().parent / "data" / "bpe_simple_vocab_16e6.txt.gz"
# CLIP's merges: the file's lines 1 … 49152 - 256 - 2 (a header line first).
MERGE_COUNT = 49152 - 256 - 2
_PATTERN = regex.compile(
    r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


@cache
def _byte_encoder() -> dict[int, str]:
    """CLIP's reversible map from bytes to printable characters."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


@cache
def _vocabulary() -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """(merge ranks, token ids), read once from the vendored vocabulary."""
    with gzip.open(VOCAB_PATH) as handle:
        lines = handle.read().decode("utf-8").split("\n")[1 : MERGE_COUNT + 1]
    merges = [tuple(line.split()) for line in lines]
    symbols = list(_byte_encoder().values())
    vocab = symbols + [symbol + "</w>" for symbol in symbols]
    vocab += ["".join(merge) for merge in merges] + ["<start_of_text>", "<end_of_text>"]
    ranks = {(first, second): rank for rank, (first, second) in enumerate(merges)}
    return ranks, {token: number for number, token in enumerate(vocab)}


@lru_cache(maxsize=100_000)
def _bpe(piece: str) -> tuple[str, ...]:
    """Merge one byte-encoded piece into CLIP tokens, lowest-ranked pair first."""
    ranks, _ = _vocabulary()
    word = (*piece[:-1], piece[-1] + "</w>")
    while len(word) > 1:
        pairs = set(pairwise(word))
        best = min(pairs, key=lambda pair: ranks.get(pair, MERGE_COUNT + 1))
        if best not in ranks:
            break
        merged: list[str] = []
        index = 0
        while index < len(word):
            if index < len(word) - 1 and (word[index], word[index + 1]) == best:
                merged.append(word[index] + word[index + 1])
                index += 2
            else:
                merged.append(word[index])
                index += 1
        word = tuple(merged)
    return word


def clip_clean(text: str) -> str:
    """CLIP's cleaning: fix mojibake, unescape HTML twice, collapse whitespace, lower-case."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()


def clip_tokens(text: str) -> list[int]:
    """CLIP token ids of `text`, without the start and end tokens."""
    _, ids = _vocabulary()
    encoder = _byte_encoder()
    tokens: list[int] = []
    for piece in _PATTERN.findall(clip_clean(text)):
        encoded = "".join(encoder[byte] for byte in piece.encode("utf-8"))
        tokens += [ids[token] for token in _bpe(encoded)]
    return tokens


def clip_token_count(text: str) -> int:
    """How many CLIP tokens `text` takes (the 75-token limit counts these)."""
    return len(clip_tokens(text))
