from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Licensing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .roles import sync_roles

        post_migrate.connect(sync_roles, sender=self, dispatch_uid="licensing.sync_roles")
