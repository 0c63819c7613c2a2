"""Floating entitlements in the admin: "3 of 5 in use" on the lists, computed in the
list query; who holds slots now, on the entitlement's page and in a list of their own;
releasing one, audited with a reason."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from licensing.models import AuditEvent, Entitlement, FloatingSlot, License
from tests.factories import ActivationCodeFactory, CustomerFactory, LicenseFactory

pytestmark = pytest.mark.django_db
FLOATING = Entitlement.LicenseModel.FLOATING


def running(license: License, seconds: int = 600) -> FloatingSlot:
    now = timezone.now()
    return FloatingSlot.objects.create(
        license=license, entitlement=license.entitlement, taken_at=now, ends_at=now + dt.timedelta(seconds=seconds)
    )


def floating_code(customer=None, seats=5, running_now=3):
    code = ActivationCodeFactory(
        entitlement__license_model=FLOATING,
        entitlement__seats=seats,
        **({"entitlement__customer": customer} if customer else {}),
    )
    for _ in range(running_now):
        running(LicenseFactory(activation_code=code))
    LicenseFactory(activation_code=code)  # activated, not running
    lapsed = running(LicenseFactory(activation_code=code))
    FloatingSlot.objects.filter(pk=lapsed.pk).update(ends_at=timezone.now() - dt.timedelta(seconds=1))
    return code


def queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_entitlement_list_says_how_many_slots_are_in_use_in_constant_queries(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:licensing_entitlement_changelist")
    floating_code()
    few, page = queries(client, url)
    assert "3 of 5 in use (5 registered)" in page
    for _ in range(5):
        floating_code()
    assert queries(client, url)[0] == few


def test_the_customer_list_sums_its_floating_entitlements(client, superuser):
    client.force_login(superuser)
    customer = CustomerFactory(name="Floaty")
    floating_code(customer, seats=5, running_now=3)
    floating_code(customer, seats=2, running_now=1)
    url = reverse("admin:licensing_customer_changelist")
    few, page = queries(client, url)
    assert "4 of 7 in use" in page
    for _ in range(4):
        floating_code(CustomerFactory())
    assert queries(client, url)[0] == few


def test_the_entitlement_page_lists_the_slots_held_now_each_with_release(client, superuser):
    client.force_login(superuser)
    code = floating_code()
    url = reverse("admin:licensing_entitlement_change", args=[code.entitlement_id])
    page = client.get(url).content.decode()
    assert "Floating slots in use now" in page
    live = FloatingSlot.objects.live().filter(entitlement=code.entitlement)
    for slot in live:
        assert reverse("admin:licensing_license_action", args=[slot.license_id, "release-floating"]) in page
    assert page.count(">Release</a>") == 3


def test_a_node_locked_entitlement_page_has_no_slots_section(client, superuser):
    client.force_login(superuser)
    code = ActivationCodeFactory()
    page = client.get(reverse("admin:licensing_entitlement_change", args=[code.entitlement_id])).content.decode()
    assert "Floating slots in use now" not in page


def test_staff_release_a_slot_with_a_reason_and_it_is_audited(client, support_user):
    client.force_login(support_user)
    code = floating_code()
    slot = FloatingSlot.objects.live().filter(entitlement=code.entitlement).first()
    url = reverse("admin:licensing_license_action", args=[slot.license_id, "release-floating"])
    confirmation = client.get(url).content.decode()
    assert "stays activated" in confirmation
    response = client.post(url, {"reason": "laptop stolen"})
    assert response.status_code == 302
    assert not FloatingSlot.objects.filter(pk=slot.pk).exists()
    event = AuditEvent.objects.get(action="license.floating_released")
    assert (event.reason, event.actor_label) == ("laptop stolen", support_user.username)
    assert License.objects.get(pk=slot.license_id).status == License.Status.ACTIVE


def test_the_license_page_offers_release_only_while_a_slot_is_held(client, superuser):
    client.force_login(superuser)
    code = floating_code(running_now=1)
    holding = FloatingSlot.objects.live().get(entitlement=code.entitlement).license
    idle = License.objects.filter(entitlement=code.entitlement, floating_slot__isnull=True).first()
    assert (
        "Release floating slot"
        in client.get(reverse("admin:licensing_license_change", args=[holding.pk])).content.decode()
    )
    assert (
        "Release floating slot"
        not in client.get(reverse("admin:licensing_license_change", args=[idle.pk])).content.decode()
    )


def test_the_slot_list_shows_live_slots_only_and_releases_in_bulk(client, superuser):
    client.force_login(superuser)
    code = floating_code()
    url = reverse("admin:licensing_floatingslot_changelist")
    page = client.get(url).content.decode()
    live = list(FloatingSlot.objects.live().filter(entitlement=code.entitlement))
    assert page.count('name="_selected_action"') == 3
    response = client.post(
        url,
        {
            "action": "release_floating_selected",
            "_selected_action": [str(slot.pk) for slot in live[:2]],
            "confirm": "yes",
            "reason": "end of shift",
        },
    )
    assert response.status_code == 302
    assert FloatingSlot.objects.live().filter(entitlement=code.entitlement).count() == 1
    assert AuditEvent.objects.filter(action="license.floating_released", reason="end of shift").count() == 2


def test_a_user_without_the_deactivate_permission_cannot_release(client, db):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_license", "view_floatingslot"]))
    client.force_login(viewer)
    code = floating_code(running_now=1)
    slot = FloatingSlot.objects.live().get(entitlement=code.entitlement)
    response = client.post(
        reverse("admin:licensing_license_action", args=[slot.license_id, "release-floating"]), {"reason": "x"}
    )
    assert response.status_code == 403
    assert FloatingSlot.objects.filter(pk=slot.pk).exists()


@pytest.mark.parametrize("page", ["entitlement", "slot list"])
def test_pages_listing_slots_take_as_many_queries_for_many_slots_as_for_one(client, superuser, page):
    client.force_login(superuser)
    code = ActivationCodeFactory(entitlement__license_model=FLOATING, entitlement__seats=50)
    if page == "entitlement":
        url = reverse("admin:licensing_entitlement_change", args=[code.entitlement_id])
    else:
        url = reverse("admin:licensing_floatingslot_changelist")
    running(LicenseFactory(activation_code=code))
    few = queries(client, url)[0]
    for _ in range(5):
        running(LicenseFactory(activation_code=code))
    assert queries(client, url)[0] == few
