"""Create (or reset) the demo account and a demo session, and print the login."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from sessions_app.models import TaggingSession
from sessions_app.services import session_create

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_SESSION = "Demo session"


class Command(BaseCommand):
    help = "Create the demo account (staff, for the admin) and print its login."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        if not TaggingSession.objects.filter(name=DEMO_SESSION).exists():
            session_create(owner=user, name=DEMO_SESSION)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r}"
            )
        )
