"""What every writer shares: the options, the report, the entries and the caption style."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from datasets.caption_style import CaptionStyle, family_of, spell_name
from datasets.exporting.names import NameAllocator, Renamed
from datasets.exporting.rows import ExportTag
from datasets.importing_formats.hydrus import hydrus_tag as hydrus_line_tag
from sessions_app.models import ImageStatus, TaggingSession
from sessions_app.rules import session_rules
from tagger_project.errors import InvalidInput
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_names

KEEP_TOKENS_SEPARATOR = "|||"
# What a caption file holds: "auto" the written caption where an image has one,
# else its tag list; "tags" or "text" only that; "both" the tags, then the text;
# "files" the tags in `.txt` and the written caption in `.caption` beside it
# (kohya; elsewhere as "both"). None: the session's (CaptionStyle.caption_source).
CAPTION_SOURCES = ("auto", "tags", "text", "both", "files")
IDENTITY: Callable[[str], str] = str


@dataclass(frozen=True)
class Entry:
    """One file of the export: its name inside the folder or zip, and its bytes, lazily."""

    name: str
    chunks: Iterable[bytes]
    # Images are already compressed; deflating them again only costs CPU.
    compress: bool = True


@dataclass(frozen=True)
class ExportOptions:
    """Choices for one export; None means "the session's setting"."""

    trigger_word: str | None = None
    separator: str | None = None
    use_underscores: bool | None = None
    escape_parentheses: bool | None = None
    # Tags that come right after the trigger word, in this order, when an image has them.
    pinned: tuple[str, ...] = ()
    # Write "head ||| rest" so kohya's keep_tokens_separator keeps the head in place.
    keep_tokens_separator: bool = False
    include_images: bool = True
    # Only images with these statuses; empty means all.
    statuses: tuple[str, ...] = ()
    # The dataset config's image_dir. None: the folder's absolute path when
    # exporting to a folder; "." in a zip or a download (resolved from the
    # trainer's working directory, so the user says where it will be unpacked).
    image_dir: str | None = None
    caption_source: str | None = None
    # Write each tag as the imported file spelled it (SessionImageTag.spelling),
    # where that spelling belongs to this format's family; False spells every
    # tag the session's way.
    keep_spellings: bool = True
    # Filled in from the session by resolved().
    style: CaptionStyle = field(default_factory=CaptionStyle)

    def resolved(self, session: TaggingSession) -> ExportOptions:
        """Options with the session's settings filled in and names validated."""
        unknown = set(self.statuses) - set(ImageStatus.values)
        if unknown:
            raise InvalidInput(
                f"unknown status {sorted(unknown)[0]!r}", details=[{"allowed": ImageStatus.values}]
            )
        style = CaptionStyle.of(session.caption_style)
        caption_source = self.caption_source or style.caption_source
        if caption_source not in CAPTION_SOURCES:
            raise InvalidInput(
                f"unknown caption source {caption_source!r}",
                details=[{"allowed": list(CAPTION_SOURCES)}],
            )
        separator = session.separator if self.separator is None else self.separator
        if not separator.strip():
            raise InvalidInput("the separator must contain a visible character, such as ','")
        return replace(
            self,
            style=style,
            caption_source=caption_source,
            trigger_word=(
                session.trigger_word if self.trigger_word is None else self.trigger_word
            ).strip(),
            separator=separator,
            use_underscores=(
                session.use_underscores if self.use_underscores is None else self.use_underscores
            ),
            escape_parentheses=(
                session.escape_parentheses
                if self.escape_parentheses is None
                else self.escape_parentheses
            ),
            # Without pinned tags of its own, an export pins what the session's rules pin.
            pinned=tuple(resolve_tag_names(self.pinned or session_rules(session.pk).pinned)),
        )


@dataclass
class ExportReport:
    """What an export did, filled in while its entries are consumed."""

    images: int = 0
    renamed: list[Renamed] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # What a trainer will read otherwise than the options asked (kohya.write_kohya).
    notes: list[str] = field(default_factory=list)
    on_image: Callable[[], None] | None = None

    def image_done(self) -> None:
        self.images += 1
        if self.on_image is not None:
            self.on_image()

    def as_dict(self) -> dict[str, object]:
        return {
            "images": self.images,
            "renamed": [item.as_dict() for item in self.renamed],
            "missing": self.missing,
            "notes": self.notes,
        }


def allocator_for(report: ExportReport, *reserved_stems: str) -> NameAllocator:
    """A name allocator whose renames land in the report."""
    allocator = NameAllocator(reserved_stems)
    allocator.renamed = report.renamed
    return allocator


@dataclass(frozen=True)
class Caption:
    """A caption split into the head that must stay first and the shuffleable rest."""

    head: list[str]
    tail: list[str]
    # True when the tail ends with a written caption: sentences, which must not be shuffled.
    prose: bool = False
    # A written caption after the tags, joined by the session's joint (CaptionStyle.joint).
    written: str = ""

    def text(self, options: ExportOptions) -> str:
        separator = options.separator or ", "
        if options.keep_tokens_separator and self.head:
            rest = separator.join(self.tail)
            text = f"{separator.join(self.head)} {KEEP_TOKENS_SEPARATOR}" + (
                f" {rest}" if rest else ""
            )
        else:
            text = separator.join([*self.head, *self.tail])
        if self.written:
            joint = options.style.joint or separator
            text = f"{text}{joint}{self.written}" if text else self.written
        return text

    def file_text(self, options: ExportOptions) -> str:
        """The caption as its file holds it: a trailing separator after a tag list, the ending."""
        text = self.text(options)
        if text and not self.prose:
            text += options.style.trailing
        return text + options.style.ending


def caption_for(
    tag_names: list[str], options: ExportOptions, spellings: dict[str, str] | None = None
) -> Caption:
    """Order and spell an image's tags the way its caption file should read.

    The trigger word comes first (verbatim), then the pinned tags the image
    has, then the other tags in caption order; `options` must be resolved.
    A name in `spellings` is written that way (the token the dataset wrote).
    """
    spelled = spellings or {}
    trigger = options.trigger_word or ""
    head_names = [name for name in options.pinned if name in set(tag_names)]
    skip = set(head_names) | trigger_names(trigger, options.separator or ", ")
    tail_names = [name for name in tag_names if name not in skip]
    head = ([trigger] if trigger else []) + [
        spelled.get(name) or spell(name, options) for name in head_names
    ]
    return Caption(head, [spelled.get(name) or spell(name, options) for name in tail_names])


def spellings_of(tags: Iterable[ExportTag]) -> dict[str, str]:
    """Name → the spelling a row keeps (rows.export_rows checked them)."""
    return {tag.name: tag.spelling for tag in tags if tag.spelling}


def spelling_reader(options: ExportOptions, fmt: str) -> Callable[[str], str] | None:
    """How `fmt` reads a stored spelling back, when the session's spellings are of its family."""
    if options.style.family() != family_of(fmt):
        return None
    return stored_spelling_reader(options)


def stored_spelling_reader(options: ExportOptions) -> Callable[[str], str] | None:
    """How the format the session's spellings came from reads them back (None: drop them)."""
    family = options.style.family()
    if not options.keep_spellings or not family:
        return None
    return hydrus_name if family == "hydrus" else IDENTITY


def hydrus_name(line: str) -> str:
    return hydrus_line_tag(line).name


def file_caption(
    tag_names: list[str],
    written: str,
    options: ExportOptions,
    spellings: dict[str, str] | None = None,
) -> Caption:
    """What an image's caption file holds, by `options.caption_source` (see CAPTION_SOURCES).

    The written caption is never respelled: it goes out exactly as written,
    after the trigger word when the session has one.
    """
    source = options.caption_source
    if source == "auto":
        source = "text" if written else "tags"
    if source == "files":
        source = "both"
    if source == "tags" or (source == "both" and not written):
        return caption_for(tag_names, options, spellings)
    if source == "text":
        trigger = options.trigger_word or ""
        return Caption([trigger] if trigger else [], [written] if written else [], bool(written))
    tags = caption_for(tag_names, options, spellings)
    return Caption(tags.head, tags.tail, prose=True, written=written)


def spell(name: str, options: ExportOptions) -> str:
    """A normalized tag name as trainers want it: underscores, escaped parentheses."""
    return spell_name(
        name,
        use_underscores=bool(options.use_underscores),
        escape_parentheses=bool(options.escape_parentheses),
    )


def trigger_names(trigger: str, separator: str) -> set[str]:
    """The tag names the trigger word already writes, so a caption does not repeat them.

    `ohwx, woman` writes `ohwx` and `woman` as well as itself: a trainer splits
    it at the separator (and people tag images with its parts).
    """
    visible = separator.strip() or separator
    parts = {trigger, *trigger.split(visible), *trigger.split(",")}
    names = set()
    for part in parts:
        try:
            names.add(normalize_tag_name(part))
        except InvalidTagName:
            continue
    return names


Writer = Callable[[TaggingSession, ExportOptions, ExportReport], Iterator[Entry]]
