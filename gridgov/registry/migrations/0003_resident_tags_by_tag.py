"""Residents by tag, in order: the auto-created tag table only indexes (resident, tag) and tag alone.

A list filtered by a tag reads (tag_id, resident_id) straight from this index, without touching
the table (measured by `make bench`, figure registry.resident_list_api).
"""

from django.db import migrations

INDEX = "registry_resident_tags_tag_resident"


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_default_tags")]
    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {INDEX} ON registry_resident_tags (tag_id, resident_id)",
            f"DROP INDEX {INDEX}",
        )
    ]
