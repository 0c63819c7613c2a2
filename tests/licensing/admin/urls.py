from django.urls import reverse


def change_url(obj) -> str:
    return reverse(f"admin:licensing_{obj._meta.model_name}_change", args=[obj.pk])


def switch_url(obj, name: str) -> str:
    return reverse(f"admin:licensing_{obj._meta.model_name}_switch", args=[obj.pk, name])
