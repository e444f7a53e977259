"""What the serve command does before it listens."""

import gc

from sessions_app.management.commands.serve import FULL_COLLECTION_AFTER, freeze_startup_heap


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
