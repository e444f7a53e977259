"""GET /healthz: can this worker reach its database and its channel layer?

For load balancers and orchestrators: 200 when both answer, 503 naming the
one that does not. No authentication and nothing secret in the answer.
"""

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
LAYER_TIMEOUT_SECONDS = 2.0


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database unreachable")
        return False


async def _layer_round_trip() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT_SECONDS)
    return message.get("token") == token


def channel_layer_ok() -> bool:
    try:
        return async_to_sync(_layer_round_trip)()
    except Exception:
        logger.exception("health: channel layer unreachable")
        return False


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_ok(), "channel_layer": channel_layer_ok()}
    body = {name: "ok" if passed else "failing" for name, passed in checks.items()}
    return JsonResponse(body, status=200 if all(checks.values()) else 503)
