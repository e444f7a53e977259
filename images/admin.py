"""Admin for the image library: a read-only view (images arrive through import and upload)."""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from images.models import Image
from tagger_project.admin_readonly import ReadOnlyAdmin


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    """Read-only: deleting would drop tags from sessions without an event or count update.

    What sessions say about the image (its tags) is shown per session, in the
    session admin: the file has no caption of its own.
    """

    list_display = ["preview", "original_name", "format", "size", "byte_size", "created_at"]
    list_display_links = ["preview", "original_name"]
    list_filter = ["format"]
    search_fields = ["original_name", "^sha256"]
    list_per_page = 50
    # A COUNT(*) over a large library costs more than the page itself.
    show_full_result_count = False
    fields = [
        "large_preview",
        "original_name",
        "sha256",
        "file",
        "thumbnail",
        "size",
        "format",
        "byte_size",
        "imported_by",
        "created_at",
        "pretty_metadata",
    ]
    readonly_fields = fields

    @admin.display(description="")
    def preview(self, obj: Image) -> SafeString | str:
        return self._img(obj, 64)

    @admin.display(description="thumbnail")
    def large_preview(self, obj: Image) -> SafeString | str:
        return self._img(obj, 256)

    @admin.display(description="size", ordering="width")
    def size(self, obj: Image) -> str:
        return f"{obj.width} × {obj.height}"

    @admin.display(description="metadata")
    def pretty_metadata(self, obj: Image) -> SafeString | str:
        if not obj.metadata:
            return "none"
        text = json.dumps(obj.metadata, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html("<pre>{}</pre>", text)

    @staticmethod
    def _img(obj: Image, size: int) -> SafeString | str:
        if not obj.thumbnail:
            return "-"
        # Fitted with width/height attributes, not style="max-…": the CSP forbids inline styles.
        scale = min(1.0, size / max(obj.width, obj.height, 1))
        return format_html(
            '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy">',
            # The authorizing view by id: the stored name is the content's hash.
            f"/api/images/{obj.pk}/thumbnail",
            obj.original_name,
            max(1, round(obj.width * scale)),
            max(1, round(obj.height * scale)),
        )
