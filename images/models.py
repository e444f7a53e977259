"""Images: one row per distinct file content, stored content-addressed."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact, GreaterThan


class Image(models.Model):
    sha256 = models.CharField(max_length=64, unique=True)
    # Paths are chosen by images.storage (content-addressed), never by upload_to.
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    # What the workspace panel shows (images.renditions): a rendition of at most
    # the display size, or the original's own name when it is one already.
    # Empty for images stored before renditions: made on first request.
    display = models.FileField(max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=16)
    byte_size = models.PositiveBigIntegerField()
    # Generation metadata (prompt, negative prompt, model, seed, sampler…).
    metadata = models.JSONField(default=dict, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Exact(Length("sha256"), 64), name="image_sha256_len"),
            models.CheckConstraint(
                condition=models.Q(width__gt=0, height__gt=0), name="image_positive_size"
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length("original_name"), 0), name="image_has_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"
