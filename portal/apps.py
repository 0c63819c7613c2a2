from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The end users' self-service portal. It owns no models: it reads through
    `licensing.selectors` and changes state only through `licensing.services`."""

    name = "portal"
