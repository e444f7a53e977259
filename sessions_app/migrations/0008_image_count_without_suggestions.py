"""Tag image counts leave a tagger's suggestions out (sessions_app/services/tag_writer.py,
`in_caption`): recount them so."""

from django.db import migrations


def recount(apps, schema_editor) -> None:
    quote = schema_editor.connection.ops.quote_name
    tag = quote(apps.get_model("tags", "Tag")._meta.db_table)
    entry_tag = quote(apps.get_model("sessions_app", "SessionImageTag")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        # One GROUP BY, not a count per tag (see 0007).
        cursor.execute(f"UPDATE {tag} SET image_count = 0")
        cursor.execute(
            f"UPDATE {tag} SET image_count = counted.n FROM (SELECT tag_id, COUNT(*) AS n"
            f" FROM {entry_tag} WHERE source <> 'suggestion' GROUP BY tag_id) AS counted"
            f" WHERE counted.tag_id = {tag}.id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0007_session_image_tags"),
        ("tags", "0007_tag_words"),
    ]

    operations = [migrations.RunPython(recount, migrations.RunPython.noop, elidable=True)]
