"""Versions now live on the session image (sessions_app 0006 copied them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0001_initial"),
        # The session images took the rows (and versions) over first.
        ("sessions_app", "0007_session_image_tags"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="image",
            name="version",
        ),
    ]
