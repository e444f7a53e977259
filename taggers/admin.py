"""Read-only admin: the models in use and, above them, every folder with its state."""

from django.contrib import admin
from django.http import HttpRequest

from tagger_project.admin_readonly import ReadOnlyAdmin
from taggers.models import TaggerModel
from taggers.selectors import execution_providers, models_dir, taggers_available


@admin.register(TaggerModel)
class TaggerModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "sha256", "input_size", "tag_count", "created_at"]
    search_fields = ["name", "sha256"]
    change_list_template = "admin/taggers/taggermodel/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # The folders are not rows: a model gets a row when first used. Listing
        # them here lets an operator see at once why a folder is refused.
        extra_context = {
            **(extra_context or {}),
            "tagger_folders": taggers_available(),
            "tagger_models_dir": models_dir(),
            "tagger_providers": execution_providers(),
        }
        return super().changelist_view(request, extra_context)
