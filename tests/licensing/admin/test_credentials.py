"""Client credentials in the admin: the shared key is shown once, on creation and on
rotation, and never again."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from licensing import services
from licensing.actors import Actor
from licensing.models import ApiToken, AuditEvent, ClientCredential
from tests.factories import EntitlementFactory, LicenseUserFactory
from tests.licensing.admin.urls import action_url, change_url

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
    rotate = action_url(credential, "rotate")
    assert rotate in client.get(change_url(credential)).content.decode()
    assert "Requests signed with the old one fail at once" in client.get(rotate).content.decode()  # asks first
    credential.refresh_from_db()
    assert credential.shared_key == old_key

    response = client.post(rotate)
    assert "no-store" in response["Cache-Control"]
    credential.refresh_from_db()
    assert credential.shared_key != old_key
    assert credential.shared_key in response.content.decode()


def test_revoking_credentials_in_bulk_revokes_each_through_its_service(client, superuser):
    credential, _ = services.client_credential_create(name="Desktop app", actor=Actor.system("test"))
    client.force_login(superuser)
    changelist = reverse("admin:licensing_clientcredential_changelist")
    selected = {"action": "revoke_selected", "_selected_action": [str(credential.pk)]}
    confirmation = client.post(changelist, selected)
    assert "Revocation is final" in confirmation.content.decode()  # revocation is final: it asks first
    credential.refresh_from_db()
    assert not credential.is_revoked

    response = client.post(changelist, {**selected, "confirm": "yes"}, follow=True)
    assert "Revoked 1 client credential." in response.content.decode()
    credential.refresh_from_db()
    assert credential.is_revoked
    assert AuditEvent.objects.filter(target_id=credential.pk, action="client_credential.revoked").exists()


def test_creating_an_api_token_shows_it_once_and_it_opens_the_management_api(client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:licensing_apitoken_add"), {"name": "billing", "read_only": "on"})
    token = ApiToken.objects.get()
    raw = re.search(r'<code class="secret">(\S+)</code>', response.content.decode()).group(1)
    assert "no-store" in response["Cache-Control"]
    assert token.read_only
    change_page = client.get(reverse("admin:licensing_apitoken_change", args=[token.pk])).content.decode()
    assert raw not in change_page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/customers").status_code == 200


def test_revoking_an_api_token_in_the_admin_shuts_it_out(client, superuser):
    token, raw = services.api_token_create(name="billing", read_only=False, actor=Actor.system("test"))
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(token.pk)], "confirm": "yes"},
        follow=True,
    )
    assert "Revoked 1 API token." in response.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/customers").status_code == 401


def test_a_license_users_entitlements_changed_in_the_admin_are_in_its_audit_record(client, superuser):
    first = EntitlementFactory(product__authorization_method="user")
    second = EntitlementFactory(customer=first.customer, product=first.product)
    user = LicenseUserFactory(customer=first.customer)
    user.entitlements.add(first)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_licenseuser_change", args=[user.pk]),
        {"username": user.username, "name": user.name, "new_password": "", "entitlements": [str(second.pk)]},
    )
    assert response.status_code == 302, re.findall(
        r"errorlist.{0,300}|messagelist.{0,300}", response.content.decode(), re.S
    )
    assert list(user.entitlements.all()) == [second]
    event = AuditEvent.objects.get(action="license_user.updated", target_id=user.pk)
    assert (event.before["entitlements"], event.after["entitlements"]) == ([str(first.pk)], [str(second.pk)])
