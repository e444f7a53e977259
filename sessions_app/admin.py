"""Admin for tagging sessions: members and settings through the services, the log read-only."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sessions_app import admin_tags, services  # noqa: F401  (admin_tags registers Tag)
from sessions_app.models import (
    ImageStatus,
    Role,
    SessionEvent,
    SessionImage,
    SessionMember,
    TaggingSession,
)
from tagger_project.admin_errors import DomainErrorsAsMessages
from tagger_project.admin_readonly import ReadOnlyAdmin

SETTINGS_FIELDS = ["trigger_word", "separator", "use_underscores", "escape_parentheses"]


class MemberForm(forms.ModelForm):
    class Meta:
        model = SessionMember
        fields = ["user", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Changing who a membership belongs to is a remove plus an add.
        if self.instance.pk:
            self.fields["user"].disabled = True


class MemberFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        roles = [
            form.cleaned_data.get("role")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if Role.OWNER not in roles:
            raise forms.ValidationError("A session must keep at least one owner.")


class MemberInline(admin.TabularInline):
    model = SessionMember
    form = MemberForm
    formset = MemberFormSet
    extra = 1
    autocomplete_fields = ["user"]


class SessionForm(forms.ModelForm):
    # ", " is the usual separator: the form must not strip its space.
    separator = forms.CharField(max_length=8, strip=False, initial=", ")

    class Meta:
        model = TaggingSession
        fields = ["name", "owner", "description", *SETTINGS_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # Names are unique per owner; on a change page the owner is read-only,
        # so the model's constraint is not validated by the form itself.
        owner = data.get("owner") or getattr(self.instance, "owner", None)
        name = (data.get("name") or "").strip()
        clash = TaggingSession.objects.filter(owner=owner, name=name).exclude(pk=self.instance.pk)
        if owner is not None and name and clash.exists():
            self.add_error("name", f"{owner} already has a session called {name!r}.")
        return data


@admin.register(TaggingSession)
class TaggingSessionAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    form = SessionForm
    list_display = ["name", "owner", "progress", "last_seq", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]
    inlines = [MemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaggingSession]:
        # One aggregate per status, in the changelist's single query.
        counts = {
            f"n_{status}": Count("entries", filter=Q(entries__status=status))
            for status in ImageStatus.values
        }
        return super().get_queryset(request).annotate(**counts)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return []
        return ["owner", "progress", "events_link", "last_seq", "created_at", "updated_at"]

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return ["name", "owner", "description", *SETTINGS_FIELDS]
        return [
            "name",
            "owner",
            "description",
            *SETTINGS_FIELDS,
            "progress",
            "events_link",
            "last_seq",
            "created_at",
            "updated_at",
        ]

    def get_inlines(self, request: HttpRequest, obj) -> list:
        # The creator becomes the first owner; other members are added afterwards.
        return self.inlines if obj is not None else []

    @admin.display(description="progress")
    def progress(self, obj: TaggingSession) -> SafeString:
        counts = {status: getattr(obj, f"n_{status}", None) for status in ImageStatus.values}
        if None in counts.values():
            counts = dict.fromkeys(ImageStatus.values, 0) | dict(
                obj.entries.values_list("status").annotate(n=Count("id")).order_by()
            )
        total = sum(counts.values())
        parts = format_html_join(" · ", "{} {}", ((counts[s], s) for s in ImageStatus.values))
        return format_html("{} of {} done — {}", total - counts["todo"], total, parts)

    @admin.display(description="events")
    def events_link(self, obj: TaggingSession) -> SafeString:
        url = reverse("admin:sessions_app_sessionevent_changelist")
        return format_html(
            '<a href="{}?session__id__exact={}">{} events (read-only log)</a>',
            url,
            obj.pk,
            obj.last_seq,
        )

    def save_model(self, request: HttpRequest, obj: TaggingSession, form, change: bool) -> None:
        data = form.cleaned_data
        fields = {name: data[name] for name in ["name", "description", *SETTINGS_FIELDS]}
        if not change:
            created = services.session_create(owner=data["owner"], **fields).value
            obj.pk, obj.created_at, obj.updated_at = (
                created.pk,
                created.created_at,
                created.updated_at,
            )
            obj._state.adding = False
            return
        changes = {name: value for name, value in fields.items() if name in form.changed_data}
        if changes:
            current = TaggingSession.objects.get(pk=obj.pk)
            services.session_update(current, actor=request.user, **changes)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        session = TaggingSession.objects.get(pk=form.instance.pk)
        formset.save(commit=False)
        writes = [*formset.new_objects, *(obj for obj, _ in formset.changed_objects)]
        # Promote new owners before anyone is demoted or removed, so that a
        # hand-over never passes through a session without an owner.
        writes.sort(key=lambda member: member.role != Role.OWNER)
        for member in writes:
            saved = services.session_member_add(
                session, actor=request.user, user=member.user, role=member.role
            ).value
            member.pk = saved.pk
        for member in formset.deleted_objects:
            services.session_member_remove(session, actor=request.user, user=member.user)

    def delete_model(self, request: HttpRequest, obj: TaggingSession) -> None:
        services.session_delete(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TaggingSession]) -> None:
        for session in queryset:
            services.session_delete(session, actor=request.user)

    def get_deleted_objects(self, objs, request: HttpRequest):
        # The log and the session images are read-only in the admin, yet they go
        # with their session.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(SessionEvent._meta.verbose_name)
        perms_needed.discard(SessionImage._meta.verbose_name)
        return deleted, model_count, perms_needed, protected


@admin.register(SessionEvent)
class SessionEventAdmin(ReadOnlyAdmin):
    """The append-only log: viewable, filterable, never editable or deletable."""

    list_display = ["seq", "session", "kind", "actor", "created_at"]
    list_filter = ["kind", ("session", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["session", "actor"]
    search_fields = ["kind", "session__name"]
    ordering = ["session", "-seq"]
    show_full_result_count = False
    fields = ["session", "seq", "kind", "actor", "created_at", "pretty_payload", "pretty_inverse"]
    readonly_fields = fields

    @admin.display(description="payload")
    def pretty_payload(self, obj: SessionEvent) -> SafeString:
        return _pretty(obj.payload)

    @admin.display(description="inverse")
    def pretty_inverse(self, obj: SessionEvent) -> SafeString:
        return _pretty(obj.inverse)


@admin.register(SessionImage)
class SessionImageAdmin(ReadOnlyAdmin):
    """An image as one session sees it: its name, status, version, tags and written caption.

    Read-only: tag edits go through the services (and their events), from the
    workspace, the API or a command.
    """

    list_display = ["original_name", "image", "session", "position", "status", "version"]
    list_filter = ["status", ("session", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["session", "image"]
    search_fields = ["original_name", "caption", "session__name"]
    show_full_result_count = False
    fields = [
        "session",
        "image",
        "original_name",
        "position",
        "status",
        "version",
        "added_at",
        "tags_in_order",
        "caption",
        "caption_version",
    ]
    readonly_fields = fields

    @admin.display(description="tags, in caption order")
    def tags_in_order(self, obj: SessionImage) -> SafeString | str:
        rows = (
            obj.tags.order_by("position", "id")
            .values_list("tag__name", "tag__category", "source")
            .iterator()
        )
        items = format_html_join(
            "", "<li>{} <small>({}, {})</small></li>", ((n, c, s) for n, c, s in rows)
        )
        return format_html("<ol>{}</ol>", items) if items else "no tags"


def _pretty(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html("<pre>{}</pre>", text)
