"""The jobs in the admin: state and progress at a glance, and a cancel action."""

from django.contrib import admin, messages

from jobs.models import Job, WorkerBeat
from jobs.services import job_cancel
from tagger_project.admin_readonly import ReadOnlyAdmin
from tagger_project.errors import DomainError


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "session", "state", "progress", "model", "attempts", "created_at"]
    list_filter = ["state", "kind"]
    search_fields = ["session__name"]
    actions = ["cancel"]

    @admin.display(description="progress")
    def progress(self, job: Job) -> str:
        return f"{job.done} / {job.total}"

    @admin.display(description="model")
    def model(self, job: Job) -> str:
        return (job.params or {}).get("model", "")

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        for job in queryset:
            try:
                job_cancel(job, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"job {job.pk}: {error.message}", messages.WARNING)


@admin.register(WorkerBeat)
class WorkerBeatAdmin(ReadOnlyAdmin):
    list_display = ["worker_id", "last_seen"]
