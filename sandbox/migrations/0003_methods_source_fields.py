from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0002_sources"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="installment_term",
            field=models.PositiveSmallIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="source",
            name="phone_number",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
    ]
