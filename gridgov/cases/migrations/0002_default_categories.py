from django.db import migrations


def install(apps, schema_editor):
    from gridgov.cases.defaults import install as install_defaults

    install_defaults(apps)


def fillfactor(apps, schema_editor):
    # Room on each page for a marked row's new version, so the deadline sweep's updates stay HOT
    # (no index entry written): see the partial indexes on Case.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case SET (fillfactor = 80)")


def fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
        migrations.RunPython(fillfactor, fillfactor_reset),
    ]
