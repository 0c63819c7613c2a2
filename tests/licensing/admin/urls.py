from django.urls import reverse


def change_url(obj) -> str:
    return reverse(f"admin:licensing_{obj._meta.model_name}_change", args=[obj.pk])


def action_url(obj, name: str) -> str:
    """The page of an object action (a switch, Send invitation, Redeliver, ...)."""
    return reverse(f"admin:licensing_{obj._meta.model_name}_action", args=[obj.pk, name])
