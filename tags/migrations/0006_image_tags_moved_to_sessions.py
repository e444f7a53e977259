"""The tag rows now hang on the session image (sessions_app 0006 moved them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0005_vocabulary_generation"),
        # The session images took the rows (and versions) over first.
        ("sessions_app", "0006_session_image_tags"),
    ]

    operations = [
        migrations.DeleteModel(
            name="ImageTag",
        ),
    ]
