"""Each session image's tags in caption order, as pages and image details show them,
kept per process by the session image's id and version.

A page of 50 images reads ~1,250 tag rows, and turning them into answers cost
more than anything else in a filtered page (1.3 of 3.8 ms in the server, on
the 100k-image bench). The same images are read again and again: by everyone
looking at a session, after each edit, and by each filter that matches them.

A session image's entry is good while two numbers stand:
- its `version`. Every change to its tags moves it in the same transaction
  (sessions_app/services/tag_writer.py); the optimistic check of
  PUT /api/sessions/{id}/images/{image_id}/tags rests on that too;
- the vocabulary's generation (tags.labels), which moves on any rename,
  category change or deleted tag.

The caller passes the version its own read saw. An entry is used only for
that exact version, so an image changed since is read again. The rows are
read with their version in one statement, so an entry is never filed under
a version its tags do not belong to. Inside a transaction nothing is kept
or used.
"""

from collections.abc import Sequence

from sessions_app.sql import caption_rows
from tags.labels import Vocabulary, current_vocabulary

# ~1.2 KB an image, the shared (name, category, source) tuples included (tracemalloc
# over 10,000 images of the 100k-image bench): ~24 MB when full.
CACHED_IMAGES = 20_000

Caption = tuple[int, list[dict]]  # (version, [{"name", "category", "source"}, ...])
Shown = tuple[str, str, str]  # (name, category, source)


class _State:
    """What one process knows under one vocabulary generation.

    `images`: session image id -> (version, tags as Shown tuples, in caption order).
    `shown`: one Shown tuple per (tag, source), shared by every image that
    carries it. Answers are dicts built afresh, so no caller can change what
    another will be answered.

    Only tuples of strings and ints, which the garbage collector stops
    tracking: entries holding dicts or lists made each full collection walk
    tens of thousands more objects (5-10 ms pauses inside page requests).
    """

    def __init__(self, generation: int | None) -> None:
        self.generation = generation
        self.images: dict[int, tuple[int, tuple[Shown, ...]]] = {}
        self.shown: dict[tuple[int, str], Shown] = {}


_state = _State(generation=None)


def image_captions(images: Sequence[tuple[int, int]]) -> dict[int, Caption]:
    """Each session image's (version, tags in caption order), for (entry id, version) pairs.

    The version answered is the one the tags were read at. It is newer than
    the caller's when the image changed in between. An image deleted in
    between is left out.
    """
    global _state
    vocabulary = current_vocabulary()
    state = _state
    if state.generation != vocabulary.generation:
        state = _State(vocabulary.generation)
        if vocabulary.generation is not None:
            _state = state
    held: dict[int, tuple[int, tuple[Shown, ...]]] = {}
    missing = []
    for image_id, version in images:
        entry = state.images.get(image_id)
        if entry is not None and entry[0] == version:
            held[image_id] = entry
        else:
            missing.append(image_id)
    if missing:
        read = _read(missing, vocabulary, state)
        if vocabulary.generation is not None:
            if len(state.images) + len(read) > CACHED_IMAGES:
                state.images.clear()
                state.shown.clear()
            state.images.update(read)
        held.update(read)
    return {
        image_id: (version, [{"name": n, "category": c, "source": s} for n, c, s in tags])
        for image_id, (version, tags) in held.items()
    }


def _read(
    image_ids: list[int], vocabulary: Vocabulary, state: _State
) -> dict[int, tuple[int, tuple[Shown, ...]]]:
    """The session images' versions and tag rows in one statement, labelled from the vocabulary."""
    shown = state.shown
    rows = caption_rows(image_ids)
    labels = vocabulary.labels({tag_id for _, _, tag_id, _ in rows} - {None})
    if labels is None:
        # A tag was merged away between the two reads: read the rows again
        # with their labels, rather than show an image without one. (The
        # merge moved the generation, so this state is dropped next read.)
        labelled = caption_rows(image_ids, labelled=True)
        rows = [row[:4] for row in labelled]
        labels = {row[2]: row[4:] for row in labelled if row[2] is not None}
        shown = {}
    # One loop, no helper calls: this runs for every tag row of a page.
    read: dict[int, tuple[int, list[Shown]]] = {}
    current = None
    for image_id, version, tag_id, source in rows:
        if image_id != current:
            current, tags = image_id, []
            read[image_id] = (version, tags)
        if tag_id is not None:
            tag = shown.get((tag_id, source))
            if tag is None:
                tag = shown[tag_id, source] = (*labels[tag_id], source)
            tags.append(tag)
    return {image_id: (version, tuple(tags)) for image_id, (version, tags) in read.items()}
