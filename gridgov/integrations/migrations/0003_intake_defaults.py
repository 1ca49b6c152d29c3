from django.db import migrations


def forwards(apps, schema_editor):
    from gridgov.integrations import defaults

    defaults.install(apps)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0002_default_categories"),
        ("integrations", "0002_intake"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
