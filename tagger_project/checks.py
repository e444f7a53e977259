"""System checks that keep an unsafe configuration from running in production."""

from django.conf import settings
from django.core.checks import Error, register


@register("security", deploy=False)
def secret_key_set_when_not_debug(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY_IS_DEV:
        return [
            Error(
                "SECRET_KEY must be set in the environment when DEBUG is off.",
                hint="Export SECRET_KEY with a long random value.",
                id="tagger.E001",
            )
        ]
    return []
