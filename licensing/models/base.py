import uuid

from django.db import models
from django.utils import timezone


class PublicModel(models.Model):
    """A row whose identity may leave the server: a random UUID, never a sequence."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SwitchedModel(PublicModel):
    """A row with a status switch. Only `licensing.services` writes these three fields:
    every change of them is a transition with an audit event."""

    status_reason = models.TextField(blank=True, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
