"""The tag catalogue every installation starts with (administrators add more without code)."""

from django.db import migrations

from gridgov.registry.defaults import DEFAULT_TAGS as TAGS


def forwards(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    for code, name, kind, order in TAGS:
        Tag.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "order": order})


def backwards(apps, schema_editor):
    apps.get_model("registry", "Tag").objects.filter(code__in=[t[0] for t in TAGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
