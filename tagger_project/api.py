"""The NinjaAPI: routers from every app, and the one place errors become HTTP answers.

Every error leaves as `{"error": {"code", "message", "details"}}` with the
status its code maps to; nothing else (no traceback, no path) reaches a client.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import ABS_TPL_PATH

from accounts.api import router as auth_router
from accounts.auth import BearerAuth, CookieAuth
from datasets.api import router as datasets_router
from jobs.api import router as jobs_router
from live.api import router as stats_router
from sessions_app.api import curation_router, images_router, sessions_router
from sessions_app.api_rules import router as rules_router
from sessions_app.api_subsets import router as subsets_router
from tagger_project.errors import DomainError
from tagger_project.schemas import PATTERN_MEANINGS
from tagger_project.uploads import UploadTooLarge
from taggers.api import router as taggers_router
from tags.api import router as tags_router

logger = logging.getLogger(__name__)

STATUS_OF_CODE = {
    "invalid": 400,
    "invalid_tag": 400,
    "invalid_query": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "conflict": 409,
    "stale_version": 409,
    "too_large": 413,
    "validation_error": 422,
}
CODE_OF_STATUS = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_error",
    429: "throttled",
}


class BundledSwagger(Swagger):
    """Swagger UI from the files ninja bundles, which settings serves as our own static files.

    ninja renders its bundled page only when "ninja" is an installed app, and
    otherwise a page that loads Swagger from a CDN. It is not installed (see
    settings.NINJA_DIR), so the CDN page's place goes to the bundled one.
    """

    template_cdn = str(ABS_TPL_PATH / "swagger.html")


api = NinjaAPI(
    title="Tagger API",
    version="1",
    description="Collaborative tagging of image datasets.",
    auth=[BearerAuth(), CookieAuth()],
    urls_namespace="api",
    docs=BundledSwagger(),
)
api.add_router("/auth", auth_router)
api.add_router("/sessions", sessions_router)
api.add_router("/sessions", rules_router)
api.add_router("/sessions", subsets_router)
api.add_router("/sessions", datasets_router)
api.add_router("/sessions", jobs_router)
api.add_router("/images", images_router)
api.add_router("/tags", tags_router)
api.add_router("/tags", curation_router)
api.add_router("/stats", stats_router)
api.add_router("/taggers", taggers_router)


def error_response(status: int, code: str, message: str, details: list[Any] | None = None):
    """The one error shape, as a response."""
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JsonResponse(body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    status = STATUS_OF_CODE.get(exc.code, 400)
    return error_response(status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = [
        {"loc": list(error.get("loc", ())), "msg": _message(error), "type": error.get("type")}
        for error in exc.errors
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return error_response(422, "validation_error", f"{where}: {first['msg']}", details)


# pydantic names the schema class ("a valid dictionary or instance of TokenIn"); say it in JSON.
OBJECT_EXPECTED = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _message(error: dict) -> str:
    if error.get("type") in OBJECT_EXPECTED:
        return "must be a JSON object"
    if error.get("type") == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern")
        return PATTERN_MEANINGS.get(pattern, error.get("msg", ""))
    return error.get("msg", "")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, "unauthenticated", "log in or send an API token")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = CODE_OF_STATUS.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc))


@api.exception_handler(Http404)
def on_http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", "not found")


@api.exception_handler(UploadTooLarge)
def on_upload_too_large(request: HttpRequest, exc: UploadTooLarge) -> HttpResponse:
    return error_response(413, "too_large", f"upload too large: {exc}")


def _too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Django's own messages name settings; say what the client can act on.
    limits = {
        RequestDataTooBig: f"the request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
        TooManyFilesSent: f"at most {settings.TAGGER_MAX_UPLOAD_FILES} files per request",
        TooManyFieldsSent: f"at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields",
    }
    return error_response(413, "too_large", f"request too large: {limits[type(exc)]}")


for _too_large_error in (RequestDataTooBig, TooManyFilesSent, TooManyFieldsSent):
    api.add_exception_handler(_too_large_error, _too_large)


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Logged in full for us; the client learns only that it was our fault.
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return JsonResponse(
        {"error": {"code": "server_error", "message": "internal server error", "details": []}},
        status=500,
    )


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown paths under /api/ answer in the API's shape, not Django's HTML page."""
    return error_response(404, "not_found", f"no API endpoint at {request.path}")
