"""kohya-ss captions: each image with `name.txt` beside it, and a dataset config TOML.

The TOML's `keep_tokens` is the shortest head (trigger word and pinned tags)
of any image, so caption shuffling never moves the trigger word; with the
`|||` separator kohya keeps whatever stands before it instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from datasets.exporting.base import (
    KEEP_TOKENS_SEPARATOR,
    Entry,
    ExportOptions,
    ExportReport,
    allocator_for,
    caption_for,
)
from datasets.exporting.names import split_name
from datasets.exporting.rows import export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession

CONFIG_NAME = "dataset_config.toml"
CAPTION_EXTENSION = ".txt"


def write_kohya(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images and their caption files, then the dataset config."""
    names = allocator_for(report, "dataset_config")
    shortest_head: int | None = None
    for row in export_rows(session, statuses=options.statuses):
        if options.include_images and not image_is_stored(row.image):
            report.missing.append(row.image.original_name)
            continue
        name = names.image_name(row.image)
        caption = caption_for([tag.name for tag in row.tags], options)
        if options.include_images:
            yield Entry(name, image_chunks(row.image), compress=False)
        stem, _ = split_name(name)
        yield Entry(stem + CAPTION_EXTENSION, [caption.text(options).encode("utf-8")])
        head = len(caption.head)
        shortest_head = head if shortest_head is None else min(shortest_head, head)
        report.image_done()
    yield Entry(CONFIG_NAME, [dataset_config(session, options, shortest_head or 0).encode()])


def dataset_config(session: TaggingSession, options: ExportOptions, keep_tokens: int) -> str:
    """A kohya sd-scripts dataset config for the exported folder."""
    lines = [
        f"# kohya sd-scripts dataset config, written by Tagger for session {_toml(session.name)}.",
        "# Point image_dir at this folder (or pass --train_data_dir) before training.",
        "[general]",
        "shuffle_caption = true",
        f"caption_extension = {_toml(CAPTION_EXTENSION)}",
        f"keep_tokens = {keep_tokens}",
    ]
    if options.keep_tokens_separator:
        lines.append(f"keep_tokens_separator = {_toml(KEEP_TOKENS_SEPARATOR)}")
    lines += [
        "",
        "[[datasets]]",
        "",
        "  [[datasets.subsets]]",
        f"  image_dir = {_toml('.')}",
        "  num_repeats = 1",
        "",
    ]
    return "\n".join(lines)


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=True)
