"""On PostgreSQL, refuse UPDATE and DELETE of audit events in the database itself, so
history stays append-only even for code that bypasses the model (raw SQL, a shell).
TRUNCATE is left alone: the test suite resets tables with it."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION licensing_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'licensing_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER licensing_auditevent_append_only
    BEFORE UPDATE OR DELETE ON licensing_auditevent
    FOR EACH ROW EXECUTE FUNCTION licensing_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS licensing_auditevent_append_only ON licensing_auditevent;
DROP FUNCTION IF EXISTS licensing_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
