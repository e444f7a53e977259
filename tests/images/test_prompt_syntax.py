"""A1111's prompt syntax as its modules/prompt_parser.py reads it, turned into tag tokens.

The cases come from that module's doctests (parse_prompt_attention and
get_learned_conditioning_prompt_schedules) and from its grammar, read beside
the project: what A1111 takes as text, weight, schedule or alternation.
"""

import pytest

from images.metadata import prompt_tokens
from tags.normalize import normalize_tag_name


@pytest.mark.parametrize(
    ("prompt", "tokens"),
    [
        # The case: a group split at its commas gave "(waifu" and "extremely detailed:1.2)".
        (
            "(waifu, anime, extremely detailed:1.2), 1girl",
            ["waifu", "anime", "extremely detailed", "1girl"],
        ),
        ("(a, b:1.2)", ["a", "b"]),
        ("((a, (b)), c)", ["a", "b", "c"]),
        ("[a, b]", ["a", "b"]),
        # parse_prompt_attention's doctests.
        ("normal text", ["normal text"]),
        ("an (important) word", ["an important word"]),
        ("(unbalanced", ["unbalanced"]),
        (r"\(literal\]", [r"\(literal\]"]),
        ("(unnecessary)(parens)", ["unnecessaryparens"]),
        (
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            ["a house on a hill", "sun", "sky."],
        ),
        # Scheduling and alternation (the schedule doctests): each branch a tag.
        ("cat, [smile:frown:0.3], dog", ["cat", "smile", "frown", "dog"]),
        ("[mountain:lake:0.25]", ["mountain", "lake"]),
        ("a, [b:3]", ["a", "b"]),
        ("a, [b: 3]", ["a", "b"]),
        ("[in foreground::0.6], [:in background:0.25]", ["in foreground", "in background"]),
        ("[a|(b:1.1)]", ["a", "b"]),
        ("[cat|dog|fox], tail", ["cat", "dog", "fox", "tail"]),
        ("[(a:2):3]", ["a"]),
        ("[cat:[dog:fox:2]:1]", ["cat", "dog", "fox"]),
        # Not a schedule: no step number. A1111 keeps it as (de-emphasized) text.
        ("[a:b]", ["a:b"]),
        ("style:anime, score_9", ["style:anime", "score_9"]),
        # Escapes stay literal parentheses in the tag.
        (r"pokemon \(creature\), 1girl", [r"pokemon \(creature\)", "1girl"]),
        (r"(hatsune miku \(append\):1.1)", [r"hatsune miku \(append\)"]),
        # A closing bracket that closes nothing is text.
        ("smile), cat", [r"smile\)", "cat"]),
        # BREAK, AND with their weights, extra networks.
        ("red hair BREAK blue eyes, BREAK, smile", ["red hair", "blue eyes", "smile"]),
        ("BREAKFAST, BREAK", ["BREAKFAST"]),
        ("a cat AND a dog:1.2", ["a cat", "a dog"]),
        ("cat:1.3", ["cat"]),
        ("ANDROID, sand", ["ANDROID", "sand"]),
        ("cat <lora:catgirl_v2:0.8>, dog", ["cat", "dog"]),
        ("<lora:a:1><hypernet:b:0.5> cat <lyco:c:0.3:0.2>", ["cat"]),
        ("(cat <lora:x:1>:1.2)", ["cat"]),
        ("embedding:EasyNegative, cat", ["cat"]),
        ("", []),
    ],
)
def test_prompt_tokens_read_a1111_syntax(prompt: str, tokens: list[str]) -> None:
    assert prompt_tokens(prompt) == tokens


def test_escaped_parentheses_survive_normalization() -> None:
    tokens = prompt_tokens(r"(pokemon \(creature\), smile:1.2)")
    assert [normalize_tag_name(token) for token in tokens] == ["pokemon (creature)", "smile"]


def test_weight_with_spaces_is_still_a_weight() -> None:
    """A1111 reads `(a: 1.2)` as the text `a: 1.2`; a tag named so helps no one."""
    assert prompt_tokens("(masterpiece: 1.2), (cat :0.8 )") == ["masterpiece", "cat"]
