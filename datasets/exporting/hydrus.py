"""hydrus sidecars: `image.jpg.txt` beside each image, one tag per line.

Categories become hydrus namespaces (`character:`, `creator:`, `series:`,
`meta:`, `species:`, `lore:`, `contributor:`, `invalid:`). A general tag whose
name holds a colon is written as it is, so `rating:safe`, `person:…`,
`title:…` and any other namespace an import kept in the name go back to
hydrus as the namespaces they were; the leading `:` that hydrus reads as "no
namespace" goes only before a name that starts with a colon (`::d`), has a
space after its first colon (`star wars: the clone wars`), or one a booru
vocabulary knows (imported with a post count, or with aliases: booru
names carry no hydrus namespace, so `re:zero` is written `:re:zero`). hydrus
spells tags with spaces, unescaped.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q

from datasets.exporting.base import (
    Entry,
    ExportOptions,
    ExportReport,
    allocator_for,
    spelling_reader,
)
from datasets.exporting.rows import ExportTag, export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession
from tags.models import Tag, TagCategory

NAMESPACES = {
    TagCategory.CHARACTER: "character",
    TagCategory.ARTIST: "creator",
    TagCategory.COPYRIGHT: "series",
    TagCategory.META: "meta",
    TagCategory.SPECIES: "species",
    TagCategory.LORE: "lore",
    TagCategory.CONTRIBUTOR: "contributor",
    TagCategory.INVALID: "invalid",
}


def write_hydrus(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images and their hydrus tag sidecars."""
    names = allocator_for(report)
    unnamespaced = vocabulary_names_with_colons()
    reader = spelling_reader(options, "hydrus")
    ending = options.style.ending if options.style.format == "hydrus" else "\n"
    for row in export_rows(session, statuses=options.statuses, spelling_reader=reader):
        if options.include_images and not image_is_stored(row.image):
            report.missing.append(row.name)
            continue
        name = names.image_name(row.image, row.name)
        if options.include_images:
            yield Entry(name, image_chunks(row.image), compress=False)
        lines = "\n".join(
            tag.spelling or hydrus_tag(tag, unnamespaced=unnamespaced) for tag in row.tags
        )
        # The file as hydrus (or the dataset it came from) ends it: "\n" after each line.
        yield Entry(name + ".txt", [(lines + ending if lines else "").encode("utf-8")])
        report.image_done()


def vocabulary_names_with_colons() -> frozenset[str]:
    """Names with a colon that a booru vocabulary brought (a post count, or aliases)."""
    known = Tag.objects.filter(name__contains=":").filter(
        Q(popularity__gt=0) | Q(aliases__isnull=False)
    )
    return frozenset(known.values_list("name", flat=True).distinct())


def hydrus_tag(tag: ExportTag, *, unnamespaced: frozenset[str] = frozenset()) -> str:
    """The tag as hydrus writes it: `namespace:subtag`, or `:a:b` for a bare tag with a colon."""
    namespace = NAMESPACES.get(tag.category)
    if namespace:
        return f"{namespace}:{tag.name}"
    _, colon, rest = tag.name.partition(":")
    # hydrus would strip the space after "star wars:" and read a namespace.
    if colon and (tag.name.startswith(":") or rest[:1].isspace() or tag.name in unnamespaced):
        return f":{tag.name}"
    return tag.name
