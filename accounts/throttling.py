"""The answer to a sign-in while its account and address are locked out (django-axes)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

STATUS = 429


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return f"too many failed sign-ins; try again in {minutes} minutes"


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """The API's error shape under /api/, the sign-in page otherwise; 429 either way."""
    message = lockout_message()
    if request.path.startswith("/api/"):
        body = {"error": {"code": "throttled", "message": message, "details": []}}
        return JsonResponse(body, status=STATUS)
    context = {"message": message[0].upper() + message[1:]}
    return render(request, "registration/locked_out.html", context, status=STATUS)
