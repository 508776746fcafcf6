"""SecurityEvent now belongs to the security app (security/migrations/0001): forgotten here,
in state only, so its table and rows stay; its content type follows it, so the permissions
staff were given on it (and admin log entries about it) stay theirs."""

from django.db import migrations


def move_content_type(apps, schema_editor, source="shop", target="security"):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    if not content_types.filter(app_label=target, model="securityevent").exists():
        content_types.filter(app_label=source, model="securityevent").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="security", target="shop")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('shop', '0002_duplicate_payment_event'),
        ('security', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(move_content_type, move_content_type_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='SecurityEvent')],
            database_operations=[],
        ),
    ]
