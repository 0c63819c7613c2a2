"""An entitlement's page: its codes, the computers holding its seats (and freeing one),
and what happened to it recently."""

import pytest
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License
from tests.factories import ActivationCodeFactory, DeviceFactory, LicenseFactory

VENDOR = Actor.system("vendor test")


def page_of(client, entitlement) -> str:
    response = client.get(f"/portal/entitlements/{entitlement.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_codes_are_masked_with_reveal_and_copy(portal, holdings):
    entitlement, code, _ = holdings
    html = page_of(portal, entitlement)
    assert f'<span class="code-masked" data-code-masked>{code.masked_code}</span>' in html
    assert f"data-code-full hidden><code>{code.code}</code>" in html  # shown by Reveal
    assert f'data-copy="{code.code}"' in html
    assert 'aria-expanded="false" hidden>Reveal<span class="visually-hidden"> code ending' in html


def test_devices_holding_seats_show_hostname_os_activation_and_last_check_in(portal, holdings):
    entitlement, code, licenses = holdings
    device = DeviceFactory(hostname="design-ws-07", os_ver="Windows 11 Pro")
    checked = LicenseFactory(activation_code=code, device=device, last_check_in_at=timezone.now())
    services.license_deactivate(license=licenses[0], actor=VENDOR)
    html = page_of(portal, entitlement)
    row = html.split(f'data-license="{checked.pk}"')[1].split("</tr>")[0]
    assert "design-ws-07" in row and "Windows 11 Pro" in row
    assert "never" not in row  # it has checked in
    assert f'/portal/licenses/{checked.pk}/deactivate/"' in row
    assert f'data-license="{licenses[0].pk}"' not in html  # deactivated: holds no seat
    assert "2 of 5 in use" in html


def test_deactivating_a_device_asks_first_then_frees_the_seat_through_the_service(portal, holdings, contact):
    entitlement, _, licenses = holdings
    target = licenses[0]
    url = f"/portal/licenses/{target.pk}/deactivate/"
    confirm = portal.get(url).content.decode()
    assert f'Free the seat held by <span class="computer">{target.device.hostname}</span>?' in confirm
    target.refresh_from_db()
    assert target.status == License.Status.ACTIVE  # asking changed nothing

    response = portal.post(url)
    assert response["Location"] == f"/portal/entitlements/{entitlement.pk}/"
    target.refresh_from_db()
    assert target.status == License.Status.DEACTIVATED and target.deactivated_at is not None
    event = AuditEvent.objects.get(action="license.deactivated", target_id=target.pk)
    assert event.actor_type == AuditEvent.ActorType.PORTAL and event.actor_label == contact.email
    html = portal.get(response["Location"]).content.decode()
    assert f"{target.device} no longer holds a seat" in html
    assert "1 of 5 in use" in html


def test_a_suspended_license_cannot_be_freed_from_the_portal(portal, holdings):
    entitlement, _, licenses = holdings
    services.license_suspend(license=licenses[0], actor=VENDOR, reason="Under review")
    html = page_of(portal, entitlement)
    row = html.split(f'data-license="{licenses[0].pk}"')[1].split("</tr>")[0]
    assert '<span class="badge badge-suspended">Suspended</span>' in row and "Deactivate" not in row
    response = portal.post(f"/portal/licenses/{licenses[0].pk}/deactivate/", follow=True)
    assert "nothing to free" in response.content.decode()
    licenses[0].refresh_from_db()
    assert licenses[0].status == License.Status.SUSPENDED


def test_deactivating_twice_changes_nothing_the_second_time(portal, holdings):
    target = holdings[2][0]
    portal.post(f"/portal/licenses/{target.pk}/deactivate/")
    response = portal.post(f"/portal/licenses/{target.pk}/deactivate/", follow=True)
    assert "nothing to free" in response.content.decode()
    assert AuditEvent.objects.filter(action="license.deactivated", target_id=target.pk).count() == 1


def test_a_disabled_customer_may_still_free_a_seat(portal, holdings, contact):
    services.customer_disable(customer=contact.customer, actor=VENDOR)
    target = holdings[2][0]
    portal.post(f"/portal/licenses/{target.pk}/deactivate/")
    target.refresh_from_db()
    assert target.status == License.Status.DEACTIVATED


def test_history_shows_recent_changes_in_words(portal, holdings, contact):
    entitlement, code, licenses = holdings
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR, reason="Invoice overdue")
    services.customer_disable(customer=contact.customer, actor=VENDOR)
    services.activation_code_disable(activation_code=code, actor=VENDOR)
    portal.post(f"/portal/licenses/{licenses[0].pk}/deactivate/")
    html = page_of(portal, entitlement).split('id="history-title"')[1]
    assert "Entitlement disabled" in html and "“Invoice overdue”" in html
    assert "All access disabled" in html
    assert f"Activation code {code.masked_code} disabled" in html
    assert f'Deactivated on <span class="computer">{licenses[0].device.hostname}</span>; its seat is free' in html
    assert "by you" in html
    assert code.code not in html  # history never shows a whole code


def test_license_user_sees_their_devices_but_no_codes(license_user):
    from tests.portal.conftest import signed_in

    entitlement = license_user.entitlements.get()
    mine = License.objects.create(entitlement=entitlement, device=DeviceFactory(), license_user=license_user)
    html = page_of(signed_in(license_user), entitlement)
    assert "Activation codes" not in html
    assert f'data-license="{mine.pk}"' in html
    assert "by signing in with a license user" in html


@pytest.mark.parametrize("pk", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_ids_are_404(portal, pk):
    assert portal.get(f"/portal/entitlements/{pk}/").status_code == 404
    assert portal.post(f"/portal/licenses/{pk}/deactivate/").status_code == 404


def test_entitlement_page_renders_in_constant_queries(portal, holdings, django_assert_num_queries):
    entitlement = services.entitlement_update(entitlement=holdings[0], data={"seats": 20}, actor=VENDOR)
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR)
    with django_assert_num_queries(7) as few:  # session, account, settings, entitlement, codes, seats, history
        page_of(portal, entitlement)
    for _ in range(5):
        more = ActivationCodeFactory(entitlement=entitlement)
        for _ in range(3):
            LicenseFactory(activation_code=more)
        services.activation_code_disable(activation_code=more, actor=VENDOR)
    with django_assert_num_queries(len(few.captured_queries)):
        html = page_of(portal, entitlement)
    assert html.count("data-license=") == 17
