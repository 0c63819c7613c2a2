"""Offline requests keep what they came to (a license file, a freed seat, a refusal)
rather than the HTTP answer rendered from it; the client API renders it again."""

import json

from django.db import migrations, models

DEACTIVATED_BODY = "license_deactivated"
TEXT = "text/plain; charset=utf-8"


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


def answers_from_outcomes(apps, schema_editor):
    OfflineRequest = apps.get_model("licensing", "OfflineRequest")
    for row in OfflineRequest.objects.all().iterator():
        if row.outcome == "refused":
            body = {key: value for key, value in row.refusal.items() if value is not None}
            row.response_status, row.response_content_type = body["status"], "application/json"
            row.response_body = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        else:
            row.response_status, row.response_content_type = 200, TEXT
            row.response_body = row.license_file if row.outcome == "activated" else DEACTIVATED_BODY
        row.save(update_fields=["response_status", "response_body", "response_content_type"])


ANSWER_FIELDS = {
    "response_status": models.PositiveSmallIntegerField(null=True),
    "response_body": models.TextField(null=True),
    "response_content_type": models.CharField(max_length=100, null=True),
}


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
        # Nullable first, so that going back re-adds them nullable, fills them from the
        # outcomes, and only then makes them required again.
        *[
            migrations.AlterField(model_name="offlinerequest", name=name, field=field)
            for name, field in ANSWER_FIELDS.items()
        ],
        migrations.RunPython(outcomes_from_answers, answers_from_outcomes),
        *[migrations.RemoveField(model_name="offlinerequest", name=name) for name in ANSWER_FIELDS],
    ]
