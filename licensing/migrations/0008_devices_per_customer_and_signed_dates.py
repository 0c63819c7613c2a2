"""Devices are kept per customer: one customer's activations must not change the facts
another customer sees. A device that licenses of several customers share is split, one
row per customer (the first keeps the row; the others get a copy with the same facts,
and their licenses move to it). A device no license uses keeps no customer."""

import django.db.models.deletion
from django.db import migrations, models


def devices_per_customer(apps, schema_editor):
    Device = apps.get_model("licensing", "Device")
    License = apps.get_model("licensing", "License")
    facts = ("hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip", "app_ver", "sdk_ver", "created_at")
    for device in Device.objects.all().order_by("pk").iterator():
        customers = list(
            License.objects.filter(device=device)
            .order_by("activated_at", "pk")
            .values_list("entitlement__customer_id", flat=True)
        )
        owners = list(dict.fromkeys(customers))  # in order of first activation
        if not owners:
            continue
        Device.objects.filter(pk=device.pk).update(customer_id=owners[0])
        for customer_id in owners[1:]:
            copy = Device.objects.create(
                customer_id=customer_id,
                hardware_id=device.hardware_id,
                **{name: getattr(device, name) for name in facts},
            )
            License.objects.filter(device=device, entitlement__customer_id=customer_id).update(device=copy)


class Migration(migrations.Migration):

    dependencies = [
        ('licensing', '0007_offline_request_outcome'),
    ]

    operations = [
        migrations.AddField(
            model_name='device',
            name='customer',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='devices', to='licensing.customer'),
        ),
        migrations.AddField(
            model_name='license',
            name='client_signed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='device',
            name='hardware_id',
            field=models.CharField(max_length=255),
        ),
        migrations.RunPython(devices_per_customer, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['hardware_id'], name='licensing_d_hardwar_87ffc4_idx'),
        ),
        migrations.AddConstraint(
            model_name='device',
            constraint=models.UniqueConstraint(fields=('customer', 'hardware_id'), name='device_one_per_customer_and_hardware_id'),
        ),
    ]
