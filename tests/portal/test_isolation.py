"""Isolation in the portal: a contact of customer A gets 404 for every page and action of
customer B, a license user sees only what is theirs, and the admin's staff sign-in is
not a portal sign-in.

Every id used here really exists (in B, or in A beyond a license user's reach), so a 404
proves that the view looked it up through a selector scoped to the signed-in account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from licensing import accounts, selectors, services
from licensing.actors import Actor
from licensing.models import ActivationCode, AuditEvent, Customer, CustomerContact, Device, License, Product
from licensing.signing import current_signer
from tests.factories import (
    ActivationCodeFactory,
    CustomerContactFactory,
    CustomerFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseUserFactory,
    ProductFactory,
    StaffUserFactory,
)
from tests.licensing.api.conftest import ClientApp
from tests.portal.conftest import PASSWORD, signed_in

B_PASSWORD = "bravo password 456"
NOT_YOURS = "This request file is for a license key or user that is not part of your account."


@pytest.fixture(autouse=True)
def fresh_cache_and_signer():
    # Failed sign-ins are counted in the cache; the signer is cached per process while
    # each test's database starts without a key.
    cache.clear()
    current_signer.cache_clear()
    yield
    current_signer.cache_clear()
    cache.clear()


@dataclass
class Bravo:
    """Customer B and everything it holds, with names found nowhere in A's data."""

    customer: Customer
    contact: CustomerContact
    product: Product  # B's own product
    entitlement: object
    code: ActivationCode
    license: License
    shared_entitlement: object  # B's entitlement of A's product
    shared_code: ActivationCode
    shared_license: License

    def secrets(self) -> dict[str, str]:
        """What must never show on a page of A's."""
        found = {
            "customer name": self.customer.name,
            "contact name": self.contact.name,
            "contact email": self.contact.email,
            "product name": self.product.name,
        }
        for label, obj in [
            ("entitlement", self.entitlement),
            ("shared entitlement", self.shared_entitlement),
            ("code", self.code),
            ("shared code", self.shared_code),
            ("license", self.license),
            ("shared license", self.shared_license),
        ]:
            found[f"{label} id"] = str(obj.pk)
        for label, code in [("code", self.code), ("shared code", self.shared_code)]:
            found[label] = code.code
        for label, lic in [("license", self.license), ("shared license", self.shared_license)]:
            found[f"{label} hostname"] = lic.device.hostname
            found[f"{label} hardware id"] = lic.device.hardware_id
        return found


@pytest.fixture
def bravo(holdings) -> Bravo:
    a_entitlement = holdings[0]
    customer = CustomerFactory(name="Bravo Industries Ltd", email="office@bravo.example")
    contact = CustomerContactFactory(
        customer=customer, name="Beatrice Bravo", email="beatrice@bravo.example", raw_password=B_PASSWORD
    )
    product = ProductFactory(code="bravo-secret-suite", name="Bravo Secret Suite")
    entitlement = EntitlementFactory(customer=customer, product=product, seats=3)
    code = ActivationCodeFactory(entitlement=entitlement)
    license = LicenseFactory(
        activation_code=code, device=DeviceFactory(hardware_id="bravo-hw-own-0001", hostname="bravo-design-station")
    )
    # The same product as A's entitlement: only the customer tells them apart.
    shared_entitlement = EntitlementFactory(customer=customer, product=a_entitlement.product, seats=3)
    shared_code = ActivationCodeFactory(entitlement=shared_entitlement)
    shared_license = LicenseFactory(
        activation_code=shared_code,
        device=DeviceFactory(hardware_id="bravo-hw-shared-0002", hostname="bravo-render-node"),
    )
    return Bravo(
        customer=customer,
        contact=contact,
        product=product,
        entitlement=entitlement,
        code=code,
        license=license,
        shared_entitlement=shared_entitlement,
        shared_code=shared_code,
        shared_license=shared_license,
    )


def leaked(response, bravo: Bravo) -> dict[str, str]:
    html = response.content.decode()
    return {label: value for label, value in bravo.secrets().items() if value in html}


def assert_still_active(*licenses: License) -> None:
    for lic in licenses:
        lic.refresh_from_db()
        assert lic.status == License.Status.ACTIVE, f"{lic.device} was {lic.status}"
        assert lic.deactivated_at is None


def csrf_token_from(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "no CSRF token on the page"
    return match.group(1)


# Dashboard


def test_dashboard_of_contact_of_a_lists_a_entitlements_and_none_of_b(contact, holdings, bravo):
    a_entitlement = holdings[0]

    response = signed_in(contact).get("/portal/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-entitlement="{a_entitlement.pk}"' in html
    assert a_entitlement.product.name in html
    assert contact.customer.name in html
    assert html.count("data-entitlement=") == 1
    assert leaked(response, bravo) == {}


# Entitlement page


def test_contact_of_a_gets_404_for_entitlement_page_of_b(contact, bravo):
    portal = signed_in(contact)

    for entitlement in (bravo.entitlement, bravo.shared_entitlement):
        response = portal.get(f"/portal/entitlements/{entitlement.pk}/")
        assert response.status_code == 404, entitlement
        assert leaked(response, bravo) == {}


def test_entitlement_page_of_a_never_lists_b_codes_devices_or_history_on_a_shared_product(contact, holdings, bravo):
    a_entitlement, a_code, a_licenses = holdings
    # Something happened to one of B's devices on the shared product, with B's own words.
    b_gone = LicenseFactory(
        activation_code=bravo.shared_code,
        device=DeviceFactory(hardware_id="bravo-hw-gone-0003", hostname="bravo-retired-box"),
    )
    services.license_deactivate(license=b_gone, actor=Actor.system("test"), reason="Bravo internal reason")

    response = signed_in(contact).get(f"/portal/entitlements/{a_entitlement.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert a_code.code in html
    for lic in a_licenses:
        assert f'data-license="{lic.pk}"' in html
    assert html.count("data-license=") == len(a_licenses)
    assert leaked(response, bravo) == {}
    for secret in ("bravo-retired-box", "bravo-hw-gone-0003", str(b_gone.pk), "Bravo internal reason"):
        assert secret not in html


# Deactivating a device


def test_contact_of_a_gets_404_for_deactivate_page_of_b_license(contact, bravo):
    portal = signed_in(contact)

    for lic in (bravo.license, bravo.shared_license):
        response = portal.get(f"/portal/licenses/{lic.pk}/deactivate/")
        assert response.status_code == 404, lic
        assert leaked(response, bravo) == {}


def test_contact_of_a_forging_a_post_to_deactivate_b_license_gets_404_and_changes_nothing(contact, holdings, bravo):
    portal = signed_in(contact)
    # A real token of A's session, taken from a page of A's own.
    token = csrf_token_from(portal.get(f"/portal/licenses/{holdings[2][0].pk}/deactivate/"))
    events = AuditEvent.objects.count()

    for lic in (bravo.license, bravo.shared_license):
        response = portal.post(f"/portal/licenses/{lic.pk}/deactivate/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 404, lic

    assert_still_active(bravo.license, bravo.shared_license)
    assert AuditEvent.objects.count() == events


def test_contact_of_a_forging_a_post_with_enforced_csrf_and_a_valid_token_cannot_deactivate_b_license(
    contact, holdings, bravo
):
    own = holdings[2][0]
    browser = Client(enforce_csrf_checks=True)
    sign_in_token = csrf_token_from(browser.get("/portal/sign-in/"))
    response = browser.post(
        "/portal/sign-in/",
        {"email": contact.email, "password": PASSWORD, "csrfmiddlewaretoken": sign_in_token},
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    # The token rotates at sign-in: take the one of the signed-in session from a page.
    token = csrf_token_from(browser.get(f"/portal/licenses/{own.pk}/deactivate/"))
    events = AuditEvent.objects.count()

    # CSRF is really checked here: without the token the POST is refused outright.
    assert browser.post(f"/portal/licenses/{bravo.license.pk}/deactivate/").status_code == 403
    for lic in (bravo.license, bravo.shared_license):
        response = browser.post(f"/portal/licenses/{lic.pk}/deactivate/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 404, lic

    assert_still_active(bravo.license, bravo.shared_license)
    assert AuditEvent.objects.count() == events
    # The same token frees A's own seat: it was a valid token all along.
    response = browser.post(f"/portal/licenses/{own.pk}/deactivate/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.status == License.Status.DEACTIVATED
    assert_still_active(bravo.license, bravo.shared_license)


# Offline activation and deactivation


@pytest.fixture
def app(db) -> ClientApp:
    """A client application whose signed request files the portal accepts."""
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=Actor.system("test"))
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)


def upload(portal: Client, request_file: str):
    return portal.post(
        "/portal/offline/", {"request_file": SimpleUploadedFile("request.txt", request_file.encode(), "text/plain")}
    )


def shows_upload_error(response) -> bool:
    return response.status_code == 200 and 'class="field-error"' in response.content.decode()


def refused_as_not_yours(response) -> bool:
    return shows_upload_error(response) and NOT_YOURS in response.content.decode()


def test_contact_of_a_can_activate_offline_with_own_code(contact, holdings, app):
    # The control for the refusals below: the same kind of file, naming A's own code, works.
    a_entitlement, a_code, _ = holdings
    request = app.offline_request(
        "activation", product=a_entitlement.product.code, hardware_id="alpha-vault-1", license_key=a_code.code
    )

    response = upload(signed_in(contact), request)

    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Content-Disposition"].startswith("attachment;")
    assert License.objects.filter(device__hardware_id="alpha-vault-1", activation_code=a_code).exists()


def test_contact_of_a_uploading_offline_activation_naming_b_code_gets_an_error_and_nothing_changes(contact, bravo, app):
    portal = signed_in(contact)
    licenses, events = License.objects.count(), AuditEvent.objects.count()

    for code in (bravo.code, bravo.shared_code):
        request = app.offline_request(
            "activation", product=code.entitlement.product.code, hardware_id="alpha-vault-2", license_key=code.code
        )
        response = upload(portal, request)
        assert refused_as_not_yours(response), response.content.decode()[:2000]
        assert leaked(response, bravo) == {}

    assert License.objects.count() == licenses
    assert AuditEvent.objects.count() == events
    assert not Device.objects.filter(hardware_id="alpha-vault-2").exists()


def test_contact_of_a_uploading_offline_deactivation_naming_b_device_and_code_gets_an_error_and_b_stays_active(
    contact, holdings, bravo, app
):
    portal = signed_in(contact)
    events = AuditEvent.objects.count()

    for lic in (bravo.license, bravo.shared_license):
        request = app.offline_request(
            "deactivation",
            product=lic.entitlement.product.code,
            hardware_id=lic.device.hardware_id,
            license_key=lic.activation_code.code,
        )
        response = upload(portal, request)
        assert refused_as_not_yours(response), response.content.decode()[:2000]

    assert_still_active(bravo.license, bravo.shared_license)
    assert AuditEvent.objects.count() == events

    # A's own code does not reach B's device on the shared product either.
    request = app.offline_request(
        "deactivation",
        product=bravo.shared_license.entitlement.product.code,
        hardware_id=bravo.shared_license.device.hardware_id,
        license_key=holdings[1].code,
    )
    response = upload(portal, request)
    assert shows_upload_error(response)
    assert_still_active(bravo.license, bravo.shared_license)


@pytest.fixture
def user_product(db) -> Product:
    return ProductFactory(code="team-cloud", name="Team Cloud", authorization_method=Product.AuthorizationMethod.USER)


def user_license(user, entitlement, hardware_id: str, hostname: str) -> License:
    return LicenseFactory(
        activation_code=None,
        entitlement=entitlement,
        license_user=user,
        device=DeviceFactory(hardware_id=hardware_id, hostname=hostname),
    )


def test_contact_of_a_uploading_offline_deactivation_naming_b_license_user_gets_an_error_and_b_stays_active(
    contact, bravo, app, user_product
):
    b_entitlement = EntitlementFactory(customer=bravo.customer, product=user_product)
    b_user = LicenseUserFactory(customer=bravo.customer, username="bob@bravo.example")
    b_user.entitlements.add(b_entitlement)
    b_license = user_license(b_user, b_entitlement, "bravo-hw-user-0004", "bravo-bob-laptop")
    events = AuditEvent.objects.count()

    request = app.offline_request(
        "deactivation", product=user_product.code, hardware_id="bravo-hw-user-0004", username=b_user.username
    )
    response = upload(signed_in(contact), request)

    assert refused_as_not_yours(response), response.content.decode()[:2000]
    assert_still_active(b_license)
    assert AuditEvent.objects.count() == events


def test_license_usernames_differing_only_in_case_cannot_both_exist(contact, bravo):
    # Clients send usernames as typed and they are matched in any case, so a case
    # variant in another customer would let an upload naming A's user reach B's device.
    LicenseUserFactory(customer=contact.customer, username="jane@twins.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseUserFactory(customer=bravo.customer, username="Jane@Twins.example")


# Account page


def test_account_page_of_contact_of_a_shows_a_details_only(contact, bravo):
    response = signed_in(contact).get("/portal/account/")

    assert response.status_code == 200
    html = response.content.decode()
    assert contact.name in html
    assert contact.email in html
    assert contact.customer.name in html
    assert leaked(response, bravo) == {}


# Password links


def open_link(browser: Client, owner, token_of) -> tuple:
    """Follow a password link carrying `owner`'s uid and a token made for `token_of`."""
    uid = urlsafe_base64_encode(force_bytes(accounts.account_key(owner)))
    token = default_token_generator.make_token(token_of)
    response = browser.get(f"/portal/password-reset/{uid}/{token}/")
    assert response.status_code == 302
    return response["Location"], browser.get(response["Location"])


@pytest.mark.parametrize("direction", ["b-token-with-a-uid", "a-token-with-b-uid"])
def test_password_link_token_made_for_one_contact_does_not_work_with_the_uid_of_another(contact, bravo, direction):
    owner, token_of = (contact, bravo.contact) if direction == "b-token-with-a-uid" else (bravo.contact, contact)
    browser = Client()

    form_url, response = open_link(browser, owner, token_of)

    assert response.status_code == 400
    response = browser.post(form_url, {"new_password1": "taken over 789!", "new_password2": "taken over 789!"})
    assert response.status_code == 400
    assert browser.get("/portal/")["Location"].startswith("/portal/sign-in/")
    for account, password in ((contact, PASSWORD), (bravo.contact, B_PASSWORD)):
        account.refresh_from_db()
        assert account.check_password(password)
        assert not account.check_password("taken over 789!")


def test_password_link_of_b_works_with_b_uid(contact, bravo):
    # The control: the same link with its own uid shows the form.
    _, response = open_link(Client(), bravo.contact, bravo.contact)

    assert response.status_code == 200
    assert 'name="new_password1"' in response.content.decode()


# Visitors who are not signed in


SIGNED_IN_PAGES = [
    ("GET", "dashboard"),
    ("GET", "entitlement-detail"),
    ("GET", "license-deactivate"),
    ("POST", "license-deactivate"),
    ("GET", "offline"),
    ("POST", "offline"),
    ("GET", "account"),
    ("POST", "account"),
]


def page_path(name: str, holdings) -> str:
    entitlement, _, licenses = holdings
    return {
        "dashboard": "/portal/",
        "entitlement-detail": f"/portal/entitlements/{entitlement.pk}/",
        "license-deactivate": f"/portal/licenses/{licenses[0].pk}/deactivate/",
        "offline": "/portal/offline/",
        "account": "/portal/account/",
    }[name]


@pytest.mark.parametrize(("method", "name"), SIGNED_IN_PAGES, ids=[f"{m}-{n}" for m, n in SIGNED_IN_PAGES])
def test_visitor_not_signed_in_is_sent_to_sign_in_from_every_signed_in_page(holdings, method, name):
    path = page_path(name, holdings)
    events = AuditEvent.objects.count()

    response = Client().generic(method, path)

    assert response.status_code == 302
    assert response["Location"] == f"/portal/sign-in/?{urlencode({'next': path})}"
    assert_still_active(*holdings[2])
    assert AuditEvent.objects.count() == events


# License users


def test_license_user_sees_only_assigned_entitlements_and_gets_404_for_another_of_the_same_customer(license_user):
    assigned = license_user.entitlements.get()
    other = EntitlementFactory(
        customer=license_user.customer,
        product=ProductFactory(name="Unassigned Analytics", authorization_method=Product.AuthorizationMethod.USER),
    )
    portal = signed_in(license_user)

    dashboard = portal.get("/portal/").content.decode()
    assert f'data-entitlement="{assigned.pk}"' in dashboard
    assert str(other.pk) not in dashboard
    assert "Unassigned Analytics" not in dashboard
    assert portal.get(f"/portal/entitlements/{assigned.pk}/").status_code == 200
    assert portal.get(f"/portal/entitlements/{other.pk}/").status_code == 404


def test_license_user_sees_only_own_licenses_and_gets_404_deactivating_a_colleague_license_of_the_same_entitlement(
    license_user,
):
    entitlement = license_user.entitlements.get()
    colleague = LicenseUserFactory(customer=license_user.customer, username="colleague@customer.example")
    colleague.entitlements.add(entitlement)
    own = user_license(license_user, entitlement, "own-hw-0001", "own-laptop")
    theirs = user_license(colleague, entitlement, "colleague-hw-0002", "colleague-laptop")
    portal = signed_in(license_user)
    token = csrf_token_from(portal.get(f"/portal/licenses/{own.pk}/deactivate/"))
    events = AuditEvent.objects.count()

    page = portal.get(f"/portal/entitlements/{entitlement.pk}/").content.decode()
    assert f'data-license="{own.pk}"' in page
    for secret in (str(theirs.pk), "colleague-laptop", "colleague-hw-0002", colleague.username):
        assert secret not in page
    assert portal.get(f"/portal/licenses/{theirs.pk}/deactivate/").status_code == 404
    response = portal.post(f"/portal/licenses/{theirs.pk}/deactivate/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 404
    assert_still_active(theirs)
    assert AuditEvent.objects.count() == events


def test_license_user_sees_no_activation_codes_on_the_entitlement_page(license_user):
    entitlement = license_user.entitlements.get()
    code = ActivationCodeFactory(entitlement=entitlement)
    # The vendor later switches the product to activation by key: the page now has a
    # codes section, and the entitlement a code, which the license user still must not see.
    entitlement.product.authorization_method = Product.AuthorizationMethod.LICENSE_KEY
    entitlement.product.save()

    response = signed_in(license_user).get(f"/portal/entitlements/{entitlement.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert code.code not in html
    assert str(code.pk) not in html
    assert "Activation codes" not in html
    assert not selectors.portal_activation_codes(license_user, entitlement).exists()


# Staff users of the admin


@pytest.fixture
def staff(db):
    return StaffUserFactory(is_superuser=True, username="ops@vendor.example", email="ops@vendor.example")


def test_staff_user_signed_in_to_the_admin_is_not_signed_in_to_the_portal(staff, holdings):
    browser = Client()
    response = browser.post("/admin/login/", {"username": staff.username, "password": "staff-password"})
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200  # really signed in to the admin

    for name in ("dashboard", "entitlement-detail", "license-deactivate", "offline", "account"):
        path = page_path(name, holdings)
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/portal/sign-in/?{urlencode({'next': path})}"


def test_staff_username_and_password_do_not_sign_in_to_the_portal(staff):
    # A customer contact with the staff member's address, and a password of its own.
    CustomerContactFactory(email=staff.email, raw_password=PASSWORD)
    browser = Client()

    response = browser.post("/portal/sign-in/", {"email": staff.username, "password": "staff-password"})

    assert response.status_code == 200
    assert "don&#x27;t match an account" in response.content.decode()
    assert browser.get("/portal/")["Location"].startswith("/portal/sign-in/")


@pytest.mark.parametrize(
    "a_username",
    [
        "jane@alpha.example",
        # PostgreSQL's case folding maps these letters onto plain ones (i, s), Python's
        # lower() does not: lookups must match the stored spelling exactly.
        "kr\u0131s@bravo.example",  # dotless i
        "kri\u017f@bravo.example",  # long s
    ],
)
def test_contact_of_a_cannot_deactivate_b_device_offline_through_a_user_of_a(
    contact, bravo, app, user_product, a_username
):
    # Every field of the upload is A's own (A's user) but the hardware id of B's laptop.
    a_user = LicenseUserFactory(customer=contact.customer, username=a_username, raw_password=PASSWORD)
    a_user.entitlements.add(EntitlementFactory(customer=contact.customer, product=user_product))
    b_entitlement = EntitlementFactory(customer=bravo.customer, product=user_product)
    b_user = LicenseUserFactory(customer=bravo.customer, username="kris@bravo.example", raw_password=B_PASSWORD)
    b_user.entitlements.add(b_entitlement)
    b_license = user_license(b_user, b_entitlement, "bravo-hw-kris-0001", "bravo-kris-laptop")
    request = app.offline_request(
        "deactivation", product=user_product.code, hardware_id="bravo-hw-kris-0001", username=a_user.username
    )

    response = upload(signed_in(contact), request)

    assert_still_active(b_license)
    assert shows_upload_error(response)
