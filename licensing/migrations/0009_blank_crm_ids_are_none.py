"""A customer's CRM id left blank is no id (NULL), as Customer.save() now stores it:
rows saved blank before would otherwise keep colliding with each other."""

from django.db import migrations
from django.db.models import Q


def blank_to_none(apps, schema_editor):
    Customer = apps.get_model("licensing", "Customer")
    Customer.objects.filter(Q(external_id="") | Q(external_id__regex=r"^\s+$")).update(external_id=None)


class Migration(migrations.Migration):
    dependencies = [("licensing", "0008_devices_per_customer_and_signed_dates")]

    # Back, there is nothing to restore: NULL was always allowed.
    operations = [migrations.RunPython(blank_to_none, migrations.RunPython.noop)]
