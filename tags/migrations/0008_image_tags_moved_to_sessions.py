"""The tag rows now hang on the session image (sessions_app 0006 moved them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0007_tag_words"),
        # The session images took the rows (and versions) over first.
        ("sessions_app", "0007_session_image_tags"),
    ]

    operations = [
        migrations.DeleteModel(
            name="ImageTag",
        ),
    ]
