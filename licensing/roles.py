"""Staff roles: which groups may flip which switches.

The admin checks these permissions on the server for every switch, so hiding a button
is a courtesy, not the protection. Superusers hold every permission.
"""

from typing import Any

SUPPORT = "support"
LICENSING_ADMIN = "licensing admin"

# Reversible switches: support staff may flip them while they help a customer.
REVERSIBLE_SWITCHES = [
    "disable_customer",
    "disable_entitlement",
    "suspend_licensetransaction",
    "disable_activationcode",
    "suspend_license",
    "deactivate_license",
]
# Final switches: only licensing admins (and superusers).
FINAL_SWITCHES = ["revoke_activationcode", "revoke_license"]

LICENSING_MODELS = [
    "customer",
    "product",
    "licensetransaction",
    "entitlement",
    "activationcode",
    "licenseuser",
    "device",
    "license",
    "floatingslot",
    "trial",
    "auditevent",
    "clientcredential",
    "webhookendpoint",
    "webhookdelivery",
    "webhookattempt",
    "customercontact",
    "portalsettings",
]


def role_permissions() -> dict[str, list[str]]:
    view = [f"view_{model}" for model in LICENSING_MODELS]
    edit = [f"{verb}_{model}" for model in LICENSING_MODELS if model != "auditevent" for verb in ("add", "change")]
    return {
        SUPPORT: view + REVERSIBLE_SWITCHES,
        LICENSING_ADMIN: view + edit + REVERSIBLE_SWITCHES + FINAL_SWITCHES,
    }


def sync_roles(**kwargs: Any) -> None:
    """Create the role groups and give them exactly their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for name, codenames in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = Permission.objects.filter(content_type__app_label="licensing", codename__in=codenames)
        group.permissions.set(permissions)
