"""Offline requests keep what they came to (a license file, a freed seat, a refusal)
rather than the HTTP answer rendered from it; the client API renders it again."""

import json

from django.db import migrations, models

DEACTIVATED_BODY = "license_deactivated"


def outcomes_from_answers(apps, schema_editor):
    OfflineRequest = apps.get_model("licensing", "OfflineRequest")
    for row in OfflineRequest.objects.all().iterator():
        if row.response_status != 200:
            body = json.loads(row.response_body)
            row.outcome = "refused"
            row.refusal = {key: body.get(key) for key in ("code", "message", "reason", "status")}
        elif row.response_body == DEACTIVATED_BODY:
            row.outcome = "deactivated"
        else:
            row.outcome, row.license_file = "activated", row.response_body
        row.save(update_fields=["outcome", "license_file", "refusal"])


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0006_license_username_any_case"),
    ]

    operations = [
        migrations.AddField(
            model_name="offlinerequest",
            name="outcome",
            field=models.CharField(
                choices=[("activated", "License file issued"), ("deactivated", "Seat freed"), ("refused", "Refused")],
                default="refused",
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="offlinerequest",
            name="license_file",
            field=models.TextField(blank=True, help_text="The signed license file an activation was given."),
        ),
        migrations.AddField(
            model_name="offlinerequest",
            name="refusal",
            field=models.JSONField(blank=True, default=dict, help_text="What the licensing rules refused, and why."),
        ),
        migrations.RunPython(outcomes_from_answers, migrations.RunPython.noop),
        migrations.RemoveField(model_name="offlinerequest", name="response_status"),
        migrations.RemoveField(model_name="offlinerequest", name="response_body"),
        migrations.RemoveField(model_name="offlinerequest", name="response_content_type"),
    ]
