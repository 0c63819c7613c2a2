import uuid

from django.db import connections, models
from django.utils import timezone


class AuditEventQuerySet(models.QuerySet):
    def for_target(self, target: models.Model) -> "AuditEventQuerySet":
        return self.filter(target_type=target._meta.label_lower, target_id=target.pk)

    def values_held(self, field: str) -> list[str]:
        """The non-empty values an indexed column holds, in order, each found as the
        smallest past the last: a handful of index reads per value (a recursive query
        PostgreSQL and SQLite both run), where DISTINCT reads every event."""
        connection = connections[self.db]
        quote = connection.ops.quote_name
        table, column = quote(self.model._meta.db_table), quote(self.model._meta.get_field(field).column)
        # Names from the model's own metadata, quoted; no value from a request is in the text.
        sql = f"""
            WITH RECURSIVE walk(value) AS (
                SELECT MIN({column}) FROM {table} WHERE {column} > ''
                UNION ALL
                SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > walk.value)
                FROM walk WHERE walk.value IS NOT NULL
            )
            SELECT value FROM walk WHERE value IS NOT NULL
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [value for (value,) in cursor.fetchall()]


class AuditEvent(models.Model):
    """Append-only record of a change: who, what, on what, why, before and after.

    Actors are stored as text rather than foreign keys so that deleting a staff user
    never has to rewrite history; on PostgreSQL a trigger refuses UPDATE and DELETE.
    """

    class ActorType(models.TextChoices):
        STAFF = "staff", "Staff user"
        API_TOKEN = "api_token", "API token"
        CLIENT = "client", "Client application"
        PORTAL = "portal", "Portal user"
        SYSTEM = "system", "System"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    # Empty only for a refused attempt that named nothing we know (an unknown key).
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.UUIDField(null=True, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["target_type", "target_id", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target_repr}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")
