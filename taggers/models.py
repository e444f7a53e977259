"""A tagger model as used, and its predictions kept per image content.

A row per (folder name, model file hash): replacing model.onnx in a folder
makes a new row, so stored scores always belong to the weights that made them.
Predictions are facts about the bytes (images.Image), whatever the session,
so running again with other thresholds, or in another session holding the
same file, reads them instead of inferring.
"""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact

from images.models import Image


class TaggerModel(models.Model):
    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    input_size = models.PositiveIntegerField()
    tag_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "sha256"], name="taggermodel_name_sha256"),
            models.CheckConstraint(
                condition=Exact(Length("sha256"), 64), name="taggermodel_sha256_len"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class Prediction(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    tagger = models.ForeignKey(TaggerModel, on_delete=models.CASCADE, related_name="predictions")
    # taggers.scores: tag_count uint16 steps, zlib-compressed.
    scores = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tagger", "image"], name="prediction_tagger_image"),
        ]

    def __str__(self) -> str:
        return f"{self.tagger} on image {self.image_id}"
