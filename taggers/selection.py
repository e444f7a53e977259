"""From a tagger's scores to tag names, with the reference tagger's choices as defaults.

As the wd-tagger space does it: a tag is kept when its score is strictly above
its category's threshold (general 0.35, character 0.85), or above the MCut
threshold of its category when MCut is on (for characters never below 0.15);
the rating is the best-scoring rating tag; names have their underscores
replaced by spaces except the kaomoji, whose underscores are the face.
"""

from dataclasses import dataclass, field

import numpy as np

from taggers.labels import CATEGORY_NAMES, CHARACTER, GENERAL, RATING, Labels

# The reference tagger's list (wd-tagger space, after toriato's webui extension).
KAOMOJIS = frozenset(
    {
        "0_0",
        "(o)_(o)",
        "+_+",
        "+_-",
        "._.",
        "<o>_<o>",
        "<|>_<|>",
        "=_=",
        ">_<",
        "3_3",
        "6_9",
        ">_o",
        "@_@",
        "^_^",
        "o_o",
        "u_u",
        "x_x",
        "|_|",
        "||_||",
    }
)
CHARACTER_MCUT_FLOOR = 0.15


@dataclass(frozen=True)
class SelectionOptions:
    general_threshold: float = 0.35
    character_threshold: float = 0.85
    general_mcut: bool = False
    character_mcut: bool = False
    include_rating: bool = False
    # Names as the CSV writes them or as shown (spaces); compared case-insensitively.
    exclude: frozenset[str] = field(default_factory=frozenset)
    replace_underscores: bool = True
    # Most general + character tags kept, the highest scores first; None for no limit.
    max_tags: int | None = None


@dataclass(frozen=True)
class SelectedTag:
    name: str
    category: str
    confidence: float


def display_name(name: str, *, replace_underscores: bool = True) -> str:
    """The tag as a caption writes it: spaces for underscores, except in kaomoji."""
    if not replace_underscores or name in KAOMOJIS:
        return name
    return name.replace("_", " ")


def mcut_threshold(probabilities: np.ndarray) -> float:
    """Maximum Cut (Largeron et al., 2012): the midpoint of the largest gap between scores."""
    ordered = np.sort(probabilities)[::-1]
    if len(ordered) < 2:
        return float(ordered[0]) if len(ordered) else 1.0
    gaps = ordered[:-1] - ordered[1:]
    cut = int(gaps.argmax())
    return float((ordered[cut] + ordered[cut + 1]) / 2)


def select_tags(scores: np.ndarray, labels: Labels, options: SelectionOptions) -> list[SelectedTag]:
    """Tags to apply: the rating first (when asked), then characters, then general, by score."""
    excluded = {name.strip().lower() for name in options.exclude}
    chosen = [
        *_above(scores, labels, CHARACTER, _threshold(scores, labels, CHARACTER, options)),
        *_above(scores, labels, GENERAL, _threshold(scores, labels, GENERAL, options)),
    ]
    chosen = [i for i in chosen if not _is_excluded(labels.names[i], excluded)]
    if options.max_tags is not None:
        kept = set(sorted(chosen, key=lambda i: -scores[i])[: options.max_tags])
        chosen = [i for i in chosen if i in kept]
    if options.include_rating:
        ratings = labels.indexes(RATING)
        if len(ratings):
            best = int(ratings[scores[ratings].argmax()])
            if not _is_excluded(labels.names[best], excluded):
                chosen.insert(0, best)
    return [
        SelectedTag(
            name=display_name(labels.names[i], replace_underscores=options.replace_underscores),
            category=CATEGORY_NAMES[int(labels.categories[i])],
            confidence=float(scores[i]),
        )
        for i in chosen
    ]


def _threshold(scores: np.ndarray, labels: Labels, category: int, options: SelectionOptions):
    if category == GENERAL:
        if options.general_mcut:
            return mcut_threshold(scores[labels.indexes(GENERAL)])
        return options.general_threshold
    if options.character_mcut:
        return max(CHARACTER_MCUT_FLOOR, mcut_threshold(scores[labels.indexes(CHARACTER)]))
    return options.character_threshold


def _above(scores: np.ndarray, labels: Labels, category: int, threshold: float) -> list[int]:
    indexes = labels.indexes(category)
    kept = indexes[scores[indexes] > threshold]
    # Highest score first, ties in the CSV's order, as the reference sorts them.
    return [int(i) for i in kept[np.argsort(-scores[kept], kind="stable")]]


def _is_excluded(name: str, excluded: set[str]) -> bool:
    if not excluded:
        return False
    return name.lower() in excluded or display_name(name).lower() in excluded
