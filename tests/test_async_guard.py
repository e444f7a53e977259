"""Django's async-safety guard is on for every test outside tests/e2e.

Only the browser tests lift it (Playwright's sync API runs a loop in the test
thread); collected after them, this fails if the lift leaked into the rest.
"""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import SynchronousOnlyOperation


def test_the_guard_is_not_lifted_for_the_whole_run():
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ


@pytest.mark.django_db
async def test_the_orm_refuses_to_run_inside_the_event_loop():
    with pytest.raises(SynchronousOnlyOperation):
        get_user_model().objects.count()
