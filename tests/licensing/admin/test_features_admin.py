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
