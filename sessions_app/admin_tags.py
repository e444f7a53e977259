"""Admin for the tag vocabulary: every write goes through tags.services or the curation services."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from sessions_app.services import tag_merge, tag_recategorize, tag_rename
from tagger_project.admin_errors import DomainErrorsAsMessages, as_validation_error
from tagger_project.admin_readonly import ReadOnlyAdmin
from tagger_project.errors import DomainError
from tags import services
from tags.models import Tag, TagAlias, TagImplication
from tags.normalize import normalize_tag_name
from tags.selectors import tag_by_name

ACTION_TEMPLATE = "admin/tags/tag/action_form.html"


class TagAliasForm(forms.ModelForm):
    class Meta:
        model = TagAlias
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An alias is created or deleted, never edited in place.
        if self.instance.pk:
            self.fields["name"].disabled = True

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if self.instance.pk:
            return name
        try:
            return services.alias_check(self.instance.tag, name=name)
        except DomainError as error:
            raise as_validation_error(error) from error


class TagImplicationForm(forms.ModelForm):
    class Meta:
        model = TagImplication
        fields = ["implied"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["implied"].disabled = True

    def clean_implied(self) -> Tag:
        implied = self.cleaned_data["implied"]
        if not self.instance.pk:
            try:
                services.implication_check(self.instance.tag, implied=implied)
            except DomainError as error:
                raise as_validation_error(error) from error
        return implied


class TagAliasInline(admin.TabularInline):
    model = TagAlias
    form = TagAliasForm
    fk_name = "tag"
    extra = 1
    verbose_name = "alias (another name that resolves to this tag)"


class TagImplicationInline(admin.TabularInline):
    model = TagImplication
    form = TagImplicationForm
    fk_name = "tag"
    extra = 1
    autocomplete_fields = ["implied"]
    verbose_name = "implication (adding this tag also adds…)"


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "category", "description"]

    def clean_name(self) -> str:
        try:
            return normalize_tag_name(self.cleaned_data["name"])
        except DomainError as error:
            raise as_validation_error(error) from error


class MergeForm(forms.Form):
    target = forms.CharField(
        label="Merge into",
        max_length=200,
        help_text="The tag that stays (its name or one of its aliases).",
    )


class RenameForm(forms.Form):
    new_name = forms.CharField(label="New name", max_length=200)


@admin.register(Tag)
class TagAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    form = TagForm
    list_display = ["name", "category", "image_count", "popularity", "created_at"]
    list_filter = ["category"]
    search_fields = ["name", "aliases__name"]
    ordering = ["-image_count", "name"]
    list_per_page = 100
    actions = ["merge_into", "rename"]
    inlines = [TagAliasInline, TagImplicationInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Tag | None = None) -> list[str]:
        # A rename touches every caption and session log: the "rename" action does it.
        if obj is None:
            return ["image_count", "popularity"]
        return ["name", "image_count", "popularity", "created_at"]

    def get_inlines(self, request: HttpRequest, obj: Tag | None) -> list:
        return self.inlines if obj is not None else []

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Deleting a tag would drop it from captions without a session event; merge instead.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Tag | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Tag, form: forms.ModelForm, change: bool):
        data = form.cleaned_data
        if not change:
            created = services.tag_create(
                data["name"], category=data["category"], description=data["description"]
            )
            obj.pk, obj.name, obj.created_at = created.pk, created.name, created.created_at
            obj._state.adding = False
            return
        current = Tag.objects.get(pk=obj.pk)
        if "category" in form.changed_data:
            # Through sessions_app: open workspaces hear of it, as they do of a merge.
            tag_recategorize(current, actor=request.user, category=data["category"])
        if "description" in form.changed_data:
            services.tag_set_description(current, description=data["description"])

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        tag = form.instance
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            if isinstance(obj, TagAlias):
                services.alias_delete(obj)
            else:
                services.implication_delete(obj)
        for obj in formset.new_objects:
            if isinstance(obj, TagAlias):
                obj.pk = services.alias_create(tag, name=obj.name).pk
            else:
                obj.pk = services.implication_create(tag, implied=obj.implied).pk

    @admin.action(description="Merge selected tags into…")
    def merge_into(self, request: HttpRequest, queryset: QuerySet[Tag]) -> HttpResponse | None:
        form = MergeForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            target = tag_by_name(form.cleaned_data["target"])
            sources = list(queryset)
            if target is None:
                form.add_error("target", "No tag or alias has that name.")
            elif any(source.pk == target.pk for source in sources):
                form.add_error("target", "Cannot merge a tag into itself.")
            else:
                try:
                    with transaction.atomic():
                        for source in sources:
                            tag_merge(source, actor=request.user, into=target)
                except DomainError as error:
                    form.add_error(None, as_validation_error(error))
                else:
                    names = ", ".join(source.name for source in sources)
                    self.message_user(request, f"Merged {names} into {target.name}.")
                    return None
        return self._action_page(
            request,
            queryset,
            form,
            action="merge_into",
            title="Merge tags",
            explanation="These tags will be merged into the one you name; their names "
            "become its aliases and their images keep their caption positions.",
            submit_label="Merge",
        )

    @admin.action(description="Rename the selected tag…")
    def rename(self, request: HttpRequest, queryset: QuerySet[Tag]) -> HttpResponse | None:
        tags = list(queryset[:2])
        if len(tags) != 1:
            self.message_user(request, "Select exactly one tag to rename.", messages.ERROR)
            return None
        (tag,) = tags
        form = RenameForm(
            request.POST if "apply" in request.POST else None, initial={"new_name": tag.name}
        )
        if form.is_bound and form.is_valid():
            old_name = tag.name
            try:
                tag_rename(tag, actor=request.user, new_name=form.cleaned_data["new_name"])
            except DomainError as error:
                form.add_error("new_name", as_validation_error(error))
            else:
                self.message_user(request, f"Renamed {old_name} to {tag.name}.")
                return None
        return self._action_page(
            request,
            queryset,
            form,
            action="rename",
            title="Rename tag",
            explanation="The old name becomes an alias, so captions that use it still resolve.",
            submit_label="Rename",
        )

    def _action_page(
        self, request: HttpRequest, queryset: QuerySet[Tag], form: forms.Form, **context: Any
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            ACTION_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "queryset": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                **context,
            },
        )


@admin.register(TagAlias)
class TagAliasAdmin(ReadOnlyAdmin):
    """Read-only list of every alias; aliases are made on their tag's page."""

    list_display = ["name", "tag"]
    search_fields = ["name", "tag__name"]
    list_select_related = ["tag"]
