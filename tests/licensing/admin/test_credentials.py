"""Client credentials in the admin: the shared key is shown once, on creation and on
rotation, and never again."""

import pytest
from django.urls import reverse

from licensing import services
from licensing.audit import Actor
from licensing.models import ClientCredential

pytestmark = pytest.mark.django_db


def test_creating_a_credential_shows_its_shared_key_once(client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:licensing_clientcredential_add"), {"name": "Desktop app"})
    credential = ClientCredential.objects.get()
    page = response.content.decode()
    assert credential.shared_key in page
    assert credential.api_key in page
    assert "no-store" in response["Cache-Control"]
    change_page = client.get(reverse("admin:licensing_clientcredential_change", args=[credential.pk]))
    assert credential.shared_key not in change_page.content.decode()


def test_rotating_shows_the_new_key_and_the_old_one_stops_matching(client, superuser):
    credential, old_key = services.client_credential_create(name="Desktop app", actor=Actor.system("test"))
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_clientcredential_changelist"),
        {"action": "rotate_selected", "_selected_action": [str(credential.pk)]},
    )
    credential.refresh_from_db()
    assert credential.shared_key != old_key
    assert credential.shared_key in response.content.decode()
