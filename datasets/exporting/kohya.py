"""kohya-ss captions: each image with `name.txt` beside it, and a dataset config TOML.

Written for sd-scripts' own reading (library/config_util.py, and
train_util.BaseDataset.process_caption): it splits a caption at
`caption_separator` (default ","), strips each token, and keeps the first
`keep_tokens` of them in place when shuffling. So:

- `caption_separator` is written when the session's separator is not a comma
  (its visible part: `"; "` → `";"`), or shuffling would see one token;
- `keep_tokens` is the shortest head (trigger word and pinned tags) of any
  image, counted as sd-scripts counts it: a trigger word `ohwx, woman` is two
  tokens; with the `|||` separator kohya keeps whatever stands before it
  instead;
- `shuffle_caption` is off when a caption holds a written caption: shuffling
  would cut its sentences at their commas and swap the pieces. sd-scripts
  reads `|||` only while shuffling, so such an export writes no `|||` (it
  would reach the model as text) and says so in the report's notes, as it
  does when `keep_tokens` leaves some image's pinned tags to be shuffled;
- a tag the trigger word already writes (`ohwx` under `ohwx, woman`) is not
  written again after it;
- `image_dir` is resolved by sd-scripts from the directory the trainer runs
  in, so a folder export writes the folder's absolute path; a zip writes "."
  unless told where it will be unpacked (ExportOptions.image_dir).
- the session's subsets (kohya repeat folders) go to their folders,
  `10_ohwx/x.png` and `10_ohwx/x.txt`, each with its own `[[datasets.subsets]]`
  (its image_dir, num_repeats, class_tokens); sd-scripts reads only the images
  directly in an image_dir, so the images in no subset stay at the top with
  a subset of their own, as before. Names are unique within a folder.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from datasets.exporting.base import (
    KEEP_TOKENS_SEPARATOR,
    Entry,
    ExportOptions,
    ExportReport,
    allocator_for,
    caption_for,
    file_caption,
    spelling_reader,
    spellings_of,
)
from datasets.exporting.names import NameAllocator, split_name
from datasets.exporting.rows import export_rows, image_chunks, image_is_stored
from sessions_app.models import SessionImage, SessionSubset, TaggingSession

CONFIG_NAME = "dataset_config.toml"
CAPTION_EXTENSION = ".txt"
TEXT_EXTENSION = ".caption"


def write_kohya(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images and their caption files (in their subsets' folders), then the dataset config."""
    subsets = {s.pk: s for s in SessionSubset.objects.filter(session=session).order_by("id")}
    allocators: dict[int | None, NameAllocator] = {None: allocator_for(report, "dataset_config")}
    exported: Counter[int | None] = Counter()
    if options.keep_tokens_separator and _writes_written_captions(session, options):
        options = replace(options, keep_tokens_separator=False)
        report.notes.append(
            f"no {KEEP_TOKENS_SEPARATOR} written: the captions hold written captions, so"
            f" shuffle_caption is off, and sd-scripts reads {KEEP_TOKENS_SEPARATOR} only"
            " while shuffling (it would train as text)"
        )
    shortest_head: int | None = None
    longest_head = 0
    prose = False
    extension = options.style.extension
    reader = spelling_reader(options, "kohya")
    for row in export_rows(session, statuses=options.statuses, spelling_reader=reader):
        if options.include_images and not image_is_stored(row.image):
            report.missing.append(row.name)
            continue
        subset = subsets.get(row.subset_id) if row.subset_id is not None else None
        key = subset.pk if subset is not None else None
        if key not in allocators:
            allocators[key] = allocator_for(report)
        name = allocators[key].image_name(row.image, row.name)
        folder = f"{subset.folder}/" if subset is not None else ""
        exported[key] += 1
        tag_names = [tag.name for tag in row.tags]
        spellings = spellings_of(row.tags)
        apart = options.caption_source == "files" and row.caption
        if apart:
            # Tags to `.txt`, the sentence to `.caption`: sd-scripts' two extensions.
            caption = caption_for(tag_names, options, spellings)
        else:
            caption = file_caption(tag_names, row.caption, options, spellings)
        prose = prose or caption.prose
        if options.include_images:
            yield Entry(folder + name, image_chunks(row.image), compress=False)
        stem, _ = split_name(name)
        if apart:
            written = row.caption + options.style.ending
            yield Entry(folder + stem + TEXT_EXTENSION, [written.encode("utf-8")])
            if tag_names or options.trigger_word:
                yield Entry(
                    folder + stem + CAPTION_EXTENSION, [caption.file_text(options).encode()]
                )
        else:
            yield Entry(folder + stem + extension, [caption.file_text(options).encode("utf-8")])
        head = kohya_token_count(caption.head, options)
        shortest_head = head if shortest_head is None else min(shortest_head, head)
        longest_head = max(longest_head, head)
        report.image_done()
    parts = [
        ConfigSubset(s.folder, s.num_repeats, s.class_tokens)
        for k, s in subsets.items()
        if exported[k]
    ]
    if exported[None] or not parts:
        parts.insert(0, ConfigSubset("", 1, ""))
    keep_tokens = shortest_head or 0
    if not prose and not options.keep_tokens_separator and longest_head > keep_tokens:
        report.notes.append(
            f"keep_tokens = {keep_tokens}, the shortest head of any image: images with pinned"
            f" tags after their first {keep_tokens} tokens get them shuffled; export with"
            f" keep_tokens_separator ({KEEP_TOKENS_SEPARATOR}) to keep each image's own head"
        )
    config = dataset_config(session, options, keep_tokens, shuffle=not prose, subsets=parts)
    yield Entry(CONFIG_NAME, [config.encode()])


def _writes_written_captions(session: TaggingSession, options: ExportOptions) -> bool:
    """Whether some caption file will hold a written caption (file_caption's rule)."""
    if options.caption_source not in ("auto", "text", "both"):
        return False
    entries = SessionImage.objects.filter(session=session).exclude(caption="")
    if options.statuses:
        entries = entries.filter(status__in=options.statuses)
    return entries.exists()


@dataclass(frozen=True)
class ConfigSubset:
    """One `[[datasets.subsets]]`: its folder under the export ("" the top), repeats, class."""

    folder: str
    num_repeats: int
    class_tokens: str

    def lines(self, image_dir: str) -> list[str]:
        where = posixpath.join(image_dir, self.folder) if self.folder else image_dir
        lines = [
            "  [[datasets.subsets]]",
            f"  image_dir = {_toml(where)}",
            f"  num_repeats = {self.num_repeats}",
        ]
        if self.class_tokens:
            lines.append(f"  class_tokens = {_toml(self.class_tokens)}")
        return [*lines, ""]


def caption_separator(options: ExportOptions) -> str:
    """The separator as sd-scripts splits captions at: its visible part."""
    separator = options.separator or ", "
    return separator.strip() or separator


def kohya_token_count(head: list[str], options: ExportOptions) -> int:
    """How many tokens sd-scripts sees in the caption's head (its keep_tokens count)."""
    if not head:
        return 0
    text = (options.separator or ", ").join(head)
    return len(text.strip().split(caption_separator(options)))


def dataset_config(
    session: TaggingSession,
    options: ExportOptions,
    keep_tokens: int,
    *,
    shuffle: bool = True,
    subsets: list[ConfigSubset] | None = None,
) -> str:
    """A kohya sd-scripts dataset config for the exported folder."""
    image_dir = options.image_dir or "."
    lines = [
        f"# kohya sd-scripts dataset config, written by Tagger for session {_toml(session.name)}.",
    ]
    if image_dir == ".":
        lines.append(
            "# sd-scripts reads image_dir from the directory it runs in: set it to where"
            " these files are unpacked."
        )
    lines += [
        # Not ours to guess (512 for SD 1.5, 1024 for SDXL and Flux), and sd-scripts
        # stops with "resolution is required" when neither here nor --resolution says it.
        "# sd-scripts needs a resolution: pass --resolution, or set it under [general].",
        "[general]",
        f"shuffle_caption = {'true' if shuffle else 'false'}",
        f"caption_extension = {_toml(_config_extension(options))}",
        f"keep_tokens = {keep_tokens}",
    ]
    separator = caption_separator(options)
    if separator != ",":
        lines.append(f"caption_separator = {_toml(separator)}")
    if options.keep_tokens_separator:
        lines.append(f"keep_tokens_separator = {_toml(KEEP_TOKENS_SEPARATOR)}")
    lines += ["", "[[datasets]]", ""]
    for subset in subsets or [ConfigSubset("", 1, "")]:
        lines += subset.lines(image_dir)
    return "\n".join(lines)


def _config_extension(options: ExportOptions) -> str:
    # With "files" the tags file is the one to train on; else the files the export wrote.
    return CAPTION_EXTENSION if options.caption_source == "files" else options.style.extension


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=True)
