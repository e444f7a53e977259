"""What the serve command does before it listens."""

import gc

from sessions_app.management.commands.serve import freeze_startup_heap


def test_startup_heap_is_frozen_out_of_full_collections():
    try:
        freeze_startup_heap()
        # The modules, classes and routes loaded so far are no longer walked.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
