"""What the serve command does before it listens."""

import gc

import pytest

from live.management.commands.serve import (
    FULL_COLLECTION_AFTER,
    freeze_startup_heap,
    warm_read_caches,
)
from tags.labels import current_vocabulary
from tags.models import Tag


def test_startup_heap_is_frozen_out_of_full_collections():
    thresholds = gc.get_threshold()
    try:
        freeze_startup_heap()
        # The modules, classes and routes loaded so far are no longer walked.
        assert gc.get_freeze_count() > 10_000
        # ... and full collections, no longer damped by them, come 10x rarer.
        assert gc.get_threshold() == (*thresholds[:2], FULL_COLLECTION_AFTER)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.django_db(transaction=True)
def test_startup_reads_the_tag_labels_the_pages_show(django_assert_num_queries):
    cat = Tag.objects.create(name="cat")
    warm_read_caches()
    with django_assert_num_queries(1):  # the vocabulary counter only
        assert current_vocabulary().labels({cat.pk})[cat.pk] == ("cat", "general")
