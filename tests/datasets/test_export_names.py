"""Export file names: bare, printable, portable, bounded and unique."""

import pytest

from datasets.exporting.names import MAX_STEM_BYTES, NameAllocator, safe_stem, split_name
from images.models import Image


def image(name: str, fmt: str = "PNG", pk: int = 1) -> Image:
    """An unsaved row: naming needs only the name and the format."""
    return Image(pk=pk, original_name=name, format=fmt, file=f"originals/x{pk}.bin")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("cat.png", "cat.png"),
        ("../../etc/passwd.png", "passwd.png"),
        ("/abs.png", "abs.png"),
        ("C:\\Users\\me\\a.png", "a.png"),
        ("..png", "image.png"),
        ("...", "image.png"),
        ("", "image.png"),
        (".hidden.png", "hidden.png"),
        ("a\x00b.png", "ab.png"),
        ("a\x07\x1b[31mred.png", "a[31mred.png"),
        ("new\nline.png", "new line.png"),
        ("CON.png", "_CON.png"),
        ("lpt1.tar.png", "_lpt1.tar.png"),
        ('what?<>:"|*.png', "what_______.png"),
        ("trailing. .png", "trailing.png"),
        ("  tabs\tand  spaces .png", "tabs and spaces.png"),
        ("日本語の猫.png", "日本語の猫.png"),
        ("photo.JPEG", "photo.JPEG"),
    ],
)
def test_names_are_made_safe(original, expected):
    fmt = "JPEG" if original.lower().endswith(".jpeg") else "PNG"
    assert NameAllocator().image_name(image(original, fmt)) == expected


def test_long_names_are_bounded_in_bytes():
    name = NameAllocator().image_name(image("é" * 300 + ".png"))
    stem, extension = split_name(name)
    assert extension == ".png"
    assert len(stem.encode()) <= MAX_STEM_BYTES
    assert stem == "é" * (MAX_STEM_BYTES // 2)


def test_extension_follows_the_stored_format():
    allocator = NameAllocator()
    assert allocator.image_name(image("really_a_jpeg.png", "JPEG")) == "really_a_jpeg.jpg"
    assert allocator.image_name(image("noext", "WEBP", pk=2)) == "noext.webp"
    assert [r.reason for r in allocator.renamed] == [
        "extension does not match JPEG",
        "extension does not match WEBP",
    ]


def test_collisions_get_distinct_names_and_are_reported():
    allocator = NameAllocator(reserved_stems=("dataset_config",))
    names = [
        allocator.image_name(image(original, fmt, pk))
        for pk, (original, fmt) in enumerate(
            [
                ("a.png", "PNG"),
                ("a.jpg", "JPEG"),
                ("one/a.png", "PNG"),
                ("A.png", "PNG"),
                ("a-2.png", "PNG"),
                ("dataset_config.png", "PNG"),
            ],
            start=1,
        )
    ]
    assert names == ["a.png", "a-2.jpg", "a-3.png", "A-4.png", "a-2-2.png", "dataset_config-2.png"]
    stems = [split_name(name)[0].casefold() for name in names]
    assert len(set(stems)) == len(stems)
    assert [(r.image_id, r.original, r.exported) for r in allocator.renamed] == [
        (2, "a.jpg", "a-2.jpg"),
        (3, "one/a.png", "a-3.png"),
        (4, "A.png", "A-4.png"),
        (5, "a-2.png", "a-2-2.png"),
        (6, "dataset_config.png", "dataset_config-2.png"),
    ]
    assert allocator.renamed[1].reason == "unsafe name; same name as an earlier image"


def test_safe_stem_is_idempotent_on_its_output():
    for raw in ["../x", "CON", "a\x00", "é" * 400, " . ", "a:b"]:
        once = safe_stem(raw)
        assert safe_stem(once) == once
