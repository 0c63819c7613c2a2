"""On PostgreSQL, leave room in each page of licenses for the check-ins written to them.

Every check-in rewrites its license's row (the renewed lease, the last check-in time),
and none of those columns is indexed: PostgreSQL can keep the new version on the same
page and leave the table's ten indexes alone (a heap-only update), but only where the
page has room. Pages filled to the brim by inserts have none, so every such update
also wrote a new entry into each index. Pages of licenses are now filled to 85%.

Pages written before this migration keep what they hold; they gain room as old row
versions are pruned, or at once with VACUUM FULL licensing_license."""

from django.db import migrations

FILL_FACTOR = 85


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE licensing_license SET (fillfactor = {FILL_FACTOR})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE licensing_license RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("licensing", "0016_grace_period_in_range")]

    operations = [migrations.RunPython(forwards, backwards)]
