"""Seat counters on entitlements and activation codes, counted once here from the licenses
holding a seat (active or suspended); from now on every change that takes or gives back
a seat keeps them (licensing/services/seats.py)."""

from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

SEAT_HOLDING = ("active", "suspended")


def count_seats(apps, schema_editor):
    License = apps.get_model("licensing", "License")
    for model_name, by in (("Entitlement", "entitlement"), ("ActivationCode", "activation_code")):
        held = (
            License.objects.filter(status__in=SEAT_HOLDING, **{by: OuterRef("pk")})
            .order_by()
            .values(by)
            .annotate(n=Count("pk"))
            .values("n")
        )
        apps.get_model("licensing", model_name).objects.update(seats_used=Coalesce(Subquery(held), Value(0)))


class Migration(migrations.Migration):
    dependencies = [("licensing", "0009_blank_crm_ids_are_none")]

    operations = [
        migrations.AddField(
            model_name="activationcode",
            name="seats_used",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="entitlement",
            name="seats_used",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        # Back, the columns go and nothing needs restoring.
        migrations.RunPython(count_seats, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="activationcode",
            constraint=models.CheckConstraint(
                condition=models.Q(max_activations__isnull=True) | models.Q(seats_used__lte=models.F("max_activations")),
                name="activation_code_seats_used_within_cap",
            ),
        ),
        migrations.AddConstraint(
            model_name="entitlement",
            constraint=models.CheckConstraint(
                condition=models.Q(seats_used__lte=models.F("seats")), name="entitlement_seats_used_within_seats"
            ),
        ),
    ]
