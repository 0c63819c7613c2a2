"""Usage in the portal: a contact reads what each meter of an entitlement counted this
period and on which days, and only for entitlements they may see."""

import pytest

from licensing import services
from licensing.actors import Actor
from licensing.models import EntitlementFeature, ProductFeature
from tests.factories import EntitlementFactory

pytestmark = pytest.mark.django_db
STAFF = Actor.system("staff")


@pytest.fixture
def metered(contact):
    entitlement = EntitlementFactory(customer=contact.customer, max_consumptions=100, reset_period="monthly")
    renders = services.product_feature_create(
        product_feature=ProductFeature(
            product=entitlement.product, code="renders", name="Cloud renders", feature_type="consumption"
        ),
        actor=STAFF,
    )
    services.entitlement_feature_grant(
        entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=renders, max_consumptions=10),
        actor=STAFF,
    )
    services.consumption_correct(entitlement=entitlement, amount=42, reason="Imported", actor=STAFF)
    services.consumption_correct(entitlement=entitlement, amount=10, feature=renders, reason="Imported", actor=STAFF)
    return entitlement


def test_the_entitlement_page_shows_each_meter_against_its_limit(portal, metered):
    html = portal.get(f"/portal/entitlements/{metered.pk}/").content.decode()
    assert 'aria-labelledby="usage-title"' in html
    assert 'max="100"' in html and 'value="42"' in html and "42 of 100 this period" in html
    assert "Cloud renders" in html and "10 of 10 this period" in html and "usage-full" in html
    assert html.count('<td data-label="Counted">') == 2


def test_an_entitlement_without_meters_shows_no_usage(portal, contact):
    entitlement = EntitlementFactory(customer=contact.customer)
    html = portal.get(f"/portal/entitlements/{entitlement.pk}/").content.decode()
    assert "usage-title" not in html


def test_another_customers_usage_is_not_found(portal):
    stranger = EntitlementFactory(max_consumptions=100)
    services.consumption_correct(entitlement=stranger, amount=7, reason="x", actor=STAFF)
    assert portal.get(f"/portal/entitlements/{stranger.pk}/").status_code == 404
