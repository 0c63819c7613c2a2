"""Features and usage in the vendor's admin: declared and granted through the services,
and each meter's use this period shown on the entitlement's page."""

import pytest
from django.urls import reverse

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, EntitlementFeature, ProductFeature
from tests.factories import EntitlementFactory, grant_features
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db


def test_the_entitlement_page_shows_its_grants_and_a_bar_of_each_meters_use(client, superuser):
    entitlement = grant_features(EntitlementFactory(max_consumptions=50), {"export": True})
    services.consumption_correct(entitlement=entitlement, amount=30, reason="Imported", actor=Actor.system("t"))
    client.force_login(superuser)

    html = client.get(change_url(entitlement)).content.decode()

    assert "Features granted" in html and "export" in html
    assert '<meter class="usage-bar" min="0" max="50" high="45" optimum="0" value="30"' in html
    assert "30 of 50 this period" in html


def test_granting_through_the_admin_goes_through_the_service(client, superuser):
    entitlement = EntitlementFactory()
    feature = ProductFeature.objects.create(product=entitlement.product, code="export", name="Export")
    client.force_login(superuser)

    response = client.post(
        reverse("admin:licensing_entitlementfeature_add"),
        {"entitlement": entitlement.pk, "feature": feature.pk, "value": "true", "reset_period": "never"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert EntitlementFeature.objects.get().value is True
    entitlement.refresh_from_db()
    assert entitlement.features(entitlement.valid_from) == {"export": True}
    assert AuditEvent.objects.for_target(entitlement).filter(action="entitlement.updated").exists()


def correct_url(entitlement) -> str:
    return reverse("admin:licensing_entitlement_correct_usage", args=[entitlement.pk])


def test_staff_correct_a_meter_with_a_reason_from_the_entitlement_page(client, superuser):
    entitlement = EntitlementFactory(max_consumptions=50)
    client.force_login(superuser)
    assert correct_url(entitlement) in client.get(change_url(entitlement)).content.decode()

    response = client.post(correct_url(entitlement), {"meter": "-", "amount": "7", "reason": "Imported from v1"})

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="consumption.corrected")
    assert (event.reason, event.after["amount"], event.actor_label) == ("Imported from v1", 7, "root")
    html = client.get(change_url(entitlement)).content.decode()
    assert "7 of 50 this period" in html and 'class="usage-days"' in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"meter": "-", "amount": "7", "reason": ""}, "This field is required"),
        ({"meter": "-", "amount": "0", "reason": "x"}, "A whole number"),
        ({"meter": "-", "amount": "-3", "reason": "x"}, "below zero"),
        ({"meter": "-", "amount": "seven", "reason": "x"}, "Enter a whole number"),
        ({"meter": "nothing", "amount": "1", "reason": "x"}, "Select a valid choice"),
    ],
)
def test_a_bad_correction_says_why_and_changes_nothing(client, superuser, data, message):
    entitlement = EntitlementFactory(max_consumptions=50)
    client.force_login(superuser)
    response = client.post(correct_url(entitlement), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="consumption.corrected").exists()


def test_staff_who_may_only_view_cannot_correct(client, support_user):
    entitlement = EntitlementFactory(max_consumptions=50)
    client.force_login(support_user)
    response = client.post(correct_url(entitlement), {"meter": "-", "amount": "7", "reason": "x"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="consumption.corrected").exists()
