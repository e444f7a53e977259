"""Personal API tokens for scripts: stored hashed, shown once."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    # sha256 hex of the secret; the secret itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("token_hash"), 64), name="api_token_hash_len"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.name or self.pk}"
