from django.db import migrations


def install(apps, schema_editor):
    from gridgov.fieldwork.defaults import install_checklists

    install_checklists(apps)


class Migration(migrations.Migration):
    # The items point at the default case categories that cases/0002 installs.
    dependencies = [("fieldwork", "0001_initial"), ("cases", "0002_default_categories")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
