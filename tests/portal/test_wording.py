"""What the portal says, and says once: a disabled customer's message only in the banner
(each row shows its badge and a pointer to it), badges short enough to read, recent
events in words about computers by their host names with refusals left out, and codes
offered in full only while they can activate something."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils.html import strip_tags

from licensing import services
from licensing.actors import Actor
from licensing.models import PortalSettings
from licensing.signing import current_signer
from portal import status
from tests.factories import ActivationCodeFactory, DeviceFactory, LicenseFactory
from tests.licensing.api.conftest import ClientApp

VENDOR = Actor.system("vendor test")
CONTACT_MESSAGE = "Email billing@studio.example to settle an overdue invoice."
POINTER = '<a class="badge-pointer" href="#banner-title">see the notice at the top</a>'
LONG_HARDWARE_ID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
LICENSING = Path(__file__).resolve().parents[2] / "licensing"


@pytest.fixture(autouse=True)
def vendor(db):
    settings = PortalSettings.current()
    settings.vendor_name = "Studio Software"
    settings.contact_message = CONTACT_MESSAGE
    settings.save()
    return settings


@pytest.fixture
def app(db):
    current_signer.cache_clear()  # each test's database starts without a signing key
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=VENDOR)
    yield ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)
    current_signer.cache_clear()


def page_of(client, entitlement) -> str:
    response = client.get(f"/portal/entitlements/{entitlement.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, title_id: str) -> str:
    return html.split(f'id="{title_id}"')[1].split("</section>")[0]


def row_of(html: str, attribute: str, pk) -> str:
    return html.split(f'{attribute}="{pk}"')[1].split("</tr>")[0]


@pytest.mark.parametrize("page", ["dashboard", "entitlement"])
def test_a_disabled_customers_message_is_said_once_in_the_banner(portal, holdings, contact, page):
    entitlement, _, licenses = holdings
    services.customer_disable(customer=contact.customer, actor=VENDOR, reason="Account on hold")
    html = portal.get("/portal/").content.decode() if page == "dashboard" else page_of(portal, entitlement)
    text = strip_tags(html)

    assert text.count("has disabled") == 1
    assert text.count(CONTACT_MESSAGE) == 1
    assert text.count("Account on hold") == 1
    assert "customer disabled" not in text
    assert 'class="why' not in html
    # The entitlement, its code and each computer: the badge, and a pointer to the banner.
    pointers = 1 if page == "dashboard" else 2 + len(licenses)
    assert html.count(f'<span class="badge badge-disabled">Disabled</span> {POINTER}') == pointers
    assert 'id="banner-title"' in html


def test_the_history_of_a_disabled_customer_does_not_repeat_the_banners_note(portal, holdings, contact):
    services.customer_disable(customer=contact.customer, actor=VENDOR, reason="Account on hold")
    history = section(page_of(portal, holdings[0]), "history-title")
    assert "All access disabled" in history and "Account on hold" not in history

    # Once the customer works again, the history says why it had been cut.
    services.customer_enable(customer=contact.customer, actor=VENDOR)
    history = section(page_of(portal, holdings[0]), "history-title")
    assert "“Account on hold”" in history and "Access enabled again" in history


def test_a_badge_names_the_reason_only_when_it_comes_from_above_the_row(portal, holdings):
    entitlement, _, licenses = holdings
    leaked = ActivationCodeFactory(entitlement=entitlement)
    on_leaked = LicenseFactory(activation_code=leaked)
    services.activation_code_revoke(activation_code=leaked, actor=VENDOR)
    services.license_suspend(license=licenses[0], actor=VENDOR)
    html = page_of(portal, entitlement)

    # The code's own switch: the codes table says whose it is.
    assert '<span class="badge badge-revoked">Revoked</span>' in row_of(html, "data-code", leaked.pk)
    # A computer activated with the revoked code says why it stopped.
    assert "Revoked: activation code revoked" in row_of(html, "data-license", on_leaked.pk)
    # A suspended license's own switch: the status alone.
    assert '<span class="badge badge-suspended">Suspended</span>' in row_of(html, "data-license", licenses[0].pk)


@pytest.mark.parametrize("switch", [services.activation_code_revoke, services.activation_code_disable])
def test_a_revoked_or_disabled_code_is_shown_masked_without_reveal_or_copy(portal, holdings, switch):
    entitlement, code, _ = holdings
    usable = ActivationCodeFactory(entitlement=entitlement)
    switch(activation_code=code, actor=VENDOR)
    html = page_of(portal, entitlement)

    row = row_of(html, "data-code", code.pk)
    assert code.masked_code in row
    assert "data-reveal" not in row and "data-copy" not in row
    assert code.code not in html
    # The code that still works is offered in full.
    row = row_of(html, "data-code", usable.pk)
    assert "data-reveal" in row and f'data-copy="{usable.code}"' in row


def test_codes_of_a_disabled_customer_are_not_offered_in_full(portal, holdings, contact):
    services.customer_disable(customer=contact.customer, actor=VENDOR)
    html = page_of(portal, holdings[0])
    assert "data-reveal" not in html and holdings[1].code not in html


def test_recent_events_say_what_happened_to_which_computer_by_host_name(portal, holdings, app):
    entitlement, code, _ = holdings
    product = entitlement.product.code
    body = {"product": product, "hardware_id": "ws-07-hw", "license_key": code.code, "hostname": "design-ws-07"}
    assert app.post("activate_license", body).status_code == 200
    # A client deactivating a computer this key never activated: refused, and audited.
    refused = {"product": product, "hardware_id": "review-laptop-hw", "license_key": code.code}
    assert app.post("deactivate_license", refused).status_code == 400

    history = section(page_of(portal, entitlement), "history-title")
    text = " ".join(strip_tags(history).split())
    assert "Activated on design-ws-07 by the application" in text
    assert "refused" not in text and "not found" not in text and "review-laptop" not in text
    assert "ws-07-hw" not in text  # a computer with a host name is named by it


def test_a_long_hardware_id_is_capped_with_the_whole_id_in_a_tooltip(portal, holdings):
    entitlement, code, _ = holdings
    license = LicenseFactory(activation_code=code, device=DeviceFactory(hostname="", hardware_id=LONG_HARDWARE_ID))
    services.license_suspend(license=license, actor=VENDOR, reason="Under review")
    html = page_of(portal, entitlement)

    capped = f'<span class="computer" title="{LONG_HARDWARE_ID}">{LONG_HARDWARE_ID[:12]}\u2026</span>'
    assert capped in row_of(html, "data-license", license.pk)
    assert f"License on {capped} suspended" in section(html, "history-title")
    assert LONG_HARDWARE_ID not in strip_tags(html)  # only in the tooltips


def test_a_long_host_name_is_capped_in_messages_too(portal, holdings):
    entitlement, code, _ = holdings
    hostname = "render-workstation-in-the-basement-0042"
    license = LicenseFactory(activation_code=code, device=DeviceFactory(hostname=hostname))
    response = portal.post(f"/portal/licenses/{license.pk}/deactivate/", follow=True)
    html = response.content.decode()
    assert f"{hostname[:24]}\u2026 no longer holds a seat of {entitlement.product.name}." in html
    assert f'<span class="computer" title="{hostname}">{hostname[:24]}\u2026</span>' in section(html, "history-title")


def test_history_with_events_about_many_computers_renders_in_constant_queries(
    portal, holdings, django_assert_num_queries
):
    entitlement, code, licenses = holdings
    entitlement = services.entitlement_update(entitlement=entitlement, data={"seats": 20}, actor=VENDOR)
    services.license_suspend(license=licenses[0], actor=VENDOR)
    # session, account, settings, entitlement, codes, seats, history, the history's computers
    with django_assert_num_queries(8) as few:
        page_of(portal, entitlement)
    for _ in range(6):
        services.license_suspend(license=LicenseFactory(activation_code=code), actor=VENDOR)
    with django_assert_num_queries(len(few.captured_queries)):
        html = page_of(portal, entitlement)
    assert section(html, "history-title").count("suspended") == 7


# Audit actions as the services write them: literal strings naming a resource the
# entitlement page's history is about (and the edits' generic "<resource>.created" and
# ".updated", which are not literals).
ACTION = re.compile(r'"((?:customer|entitlement|transaction|activation_code|license|trial|consumption)\.[a-z_]+)"')
NOT_ACTIONS = {"license.device"}  # a relation path, not an action


def test_every_action_about_what_the_history_shows_is_worded_or_left_out_on_purpose():
    found = {
        action
        for path in LICENSING.rglob("*.py")
        if "migrations" not in path.parts
        for action in ACTION.findall(path.read_text())
    } - NOT_ACTIONS
    found |= {
        f"{resource}.{verb}"
        for resource in ("entitlement", "transaction", "activation_code")
        for verb in ("created", "updated")
    }
    assert "license.deactivation_refused" in found  # the scan sees the services
    assert found - status.EVENTS.keys() - status.NOT_IN_HISTORY == set()
    assert not status.EVENTS.keys() & status.NOT_IN_HISTORY
