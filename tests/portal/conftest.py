import pytest
from django.test import Client

from licensing.models import Product
from tests.factories import (
    ActivationCodeFactory,
    CustomerContactFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseUserFactory,
    ProductFactory,
    grant_features,
)

PASSWORD = "portal password 123"


def signed_in(account, password: str = PASSWORD) -> Client:
    """A browser session signed in through the sign-in form, as a person would."""
    client = Client()
    response = client.post("/portal/sign-in/", {"email": account.email_address, "password": password})
    assert response.status_code == 302 and response["Location"] == "/portal/", response.content[:2000]
    return client


@pytest.fixture
def contact(db):
    return CustomerContactFactory(raw_password=PASSWORD)


@pytest.fixture
def portal(contact) -> Client:
    return signed_in(contact)


@pytest.fixture
def holdings(contact):
    """The contact's customer holds an entitlement with a code and two devices on it."""
    entitlement = grant_features(
        EntitlementFactory(customer=contact.customer, seats=5), {"export": True, "max_projects": 50}
    )
    code = ActivationCodeFactory(entitlement=entitlement)
    licenses = [LicenseFactory(activation_code=code) for _ in range(2)]
    return entitlement, code, licenses


@pytest.fixture
def license_user(db):
    """A license user of a user-based product, assigned one of its customer's entitlements."""
    product = ProductFactory(authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(raw_password=PASSWORD)
    entitlement = EntitlementFactory(customer=user.customer, product=product)
    user.entitlements.add(entitlement)
    return user
