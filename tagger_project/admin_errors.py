"""Admin glue shared by the apps: domain errors become admin messages, never a 500.

Every admin write calls a service. Forms validate first (through the services'
check functions), so a refusal normally shows as a form error; a refusal that
only the service can see (a race, a rule checked at write time) still
reaches the curator as a message, and the admin's transaction rolls back so
nothing changes.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from tagger_project.errors import DomainError


def as_validation_error(error: DomainError) -> ValidationError:
    """A domain refusal as a form error, worded the way the service worded it."""
    return ValidationError(error.message, code=error.code)


class DomainErrorsAsMessages:
    """ModelAdmin mixin: a DomainError raised by a service during a write becomes a message.

    `changeform_view` and `delete_view` run inside `transaction.atomic`, which
    the error leaves before we catch it, so every write of the request is
    rolled back.
    """

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        except DomainError as error:
            messages.error(request, f"Nothing was changed: {error.message}")
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().delete_view(request, *args, **kwargs)  # type: ignore[misc]
        except DomainError as error:
            messages.error(request, f"Nothing was deleted: {error.message}")
            return HttpResponseRedirect(request.get_full_path())
