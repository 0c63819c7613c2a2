"""The portal in the admin: staff add customer contacts, invite them by email (one at a
time or in bulk), see them on the customer's page, switch their sign-in off, and edit
what the portal says on the vendor's behalf. Every write goes through a service and is
audited; roles decide who may do what."""

import re
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import accounts, services
from licensing.actors import Actor
from licensing.models import AuditEvent, CustomerContact, PortalSettings
from tests.factories import CustomerContactFactory, CustomerFactory, EntitlementFactory
from tests.licensing.admin.urls import change_url
from tests.portal.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new portal passphrase 42"
LINK = re.compile(r"http://testserver(/portal/password-reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _clear_throttles():
    # Sign-in failures are counted in the cache (Redis), which outlives a test's transaction.
    cache.clear()
    yield
    cache.clear()


def invite_url(contact) -> str:
    return reverse("admin:licensing_customercontact_action", args=[contact.pk, "invite"])


def uninvited_contact(**kwargs) -> CustomerContact:
    """A contact as staff create it: no password chosen yet."""
    kwargs.setdefault("customer", CustomerFactory())
    contact = CustomerContact.objects.create(**kwargs)
    assert not contact.has_usable_password()
    return contact


def contact_form_data(contact, **overrides) -> dict:
    """The change form of an existing contact (the customer is fixed after creation)."""
    data = {"email": contact.email, "name": contact.name}
    if contact.is_active:
        data["is_active"] = "on"
    return data | overrides


def sign_in_attempt(email: str, password: str):
    return Client().post("/portal/sign-in/", {"email": email, "password": password})


# 1. Adding a contact.


def test_licensing_admin_adds_a_contact_with_lowercased_email_and_no_password(client, licensing_admin):
    customer = CustomerFactory()
    client.force_login(licensing_admin)
    add_url = reverse("admin:licensing_customercontact_add")

    response = client.post(
        add_url, {"customer": str(customer.pk), "email": "  Ann.Smith@Example.COM ", "name": "Ann", "is_active": "on"}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    contact = CustomerContact.objects.get()
    assert (contact.customer, contact.email, contact.name, contact.is_active) == (
        customer,
        "ann.smith@example.com",
        "Ann",
        True,
    )
    assert not contact.has_usable_password()
    assert contact.invited_at is None
    event = AuditEvent.objects.for_target(contact).get(action="customer_contact.created")
    assert event.actor_label == licensing_admin.username

    again = client.post(
        add_url, {"customer": str(CustomerFactory().pk), "email": "ANN.smith@example.com", "name": "Ann again"}
    )

    assert again.status_code == 200
    assert "Another contact already signs in with this address." in again.content.decode()
    assert "email" in again.context["adminform"].form.errors
    assert CustomerContact.objects.count() == 1
    assert AuditEvent.objects.filter(action="customer_contact.created").count() == 1


# 2. Sending an invitation, and following its link.


def test_send_invitation_mails_a_link_that_lets_the_contact_choose_a_password_once(
    client, licensing_admin, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(name="Acme Widgets")
    contact = uninvited_contact(customer=customer, email="ann@acme.example", name="Ann")
    client.force_login(licensing_admin)
    button = invite_url(contact)

    change_page = client.get(change_url(contact)).content.decode()
    assert button in change_page and "Send invitation" in change_page
    confirmation = client.get(button)
    assert confirmation.status_code == 200
    assert "The contact gets an email with a link" in confirmation.content.decode()
    assert not mailoutbox and CustomerContact.objects.get().invited_at is None  # asking changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(button, follow=True)

    assert response.status_code == 200
    assert "Invitation sent to ann@acme.example." in response.content.decode()
    (mail,) = mailoutbox
    assert mail.to == ["ann@acme.example"]
    link = LINK.search(mail.body)
    assert link, mail.body
    path = link.group(1)
    contact.refresh_from_db()
    assert contact.invited_at is not None
    event = AuditEvent.objects.for_target(contact).get(action="customer_contact.invited")
    assert event.actor_label == licensing_admin.username

    browser = Client()
    moved = browser.get(path)
    assert moved.status_code == 302 and moved["Location"].endswith("/set-password/")
    assert "set-password" not in path
    form = browser.get(moved["Location"])
    assert form.status_code == 200
    assert 'name="new_password1"' in form.content.decode()
    chosen = browser.post(moved["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert chosen.status_code == 302 and chosen["Location"] == "/portal/", chosen.content.decode()[:3000]
    dashboard = browser.get("/portal/")
    assert dashboard.status_code == 200
    assert "Acme Widgets" in dashboard.content.decode()
    contact.refresh_from_db()
    assert contact.has_usable_password() and contact.check_password(NEW_PASSWORD)
    assert contact.last_login is not None

    second = Client()
    moved_again = second.get(path)
    assert moved_again.status_code == 302
    refused = second.get(moved_again["Location"])
    assert refused.status_code == 400
    assert "This link no longer works" in refused.content.decode()
    assert second.get("/portal/").status_code == 302  # not signed in


# 3. Inviting in bulk.


def test_bulk_invite_sends_one_email_per_selected_contact(
    client, licensing_admin, mailoutbox, django_capture_on_commit_callbacks
):
    first = uninvited_contact(email="one@acme.example")
    second = uninvited_contact(email="two@acme.example")
    untouched = uninvited_contact(email="three@acme.example")
    client.force_login(licensing_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:licensing_customercontact_changelist"),
            {"action": "invite_selected", "_selected_action": [str(first.pk), str(second.pk)], "confirm": "yes"},
            follow=True,
        )

    assert response.status_code == 200
    assert "Invited 2 customer contacts." in response.content.decode()
    assert sorted(address for mail in mailoutbox for address in mail.to) == ["one@acme.example", "two@acme.example"]
    assert all(LINK.search(mail.body) for mail in mailoutbox)
    assert AuditEvent.objects.filter(action="customer_contact.invited").count() == 2
    untouched.refresh_from_db()
    assert untouched.invited_at is None


# 4. Roles.


def test_support_staff_see_contacts_but_cannot_add_or_invite(
    client, support_user, mailoutbox, django_capture_on_commit_callbacks
):
    contact = uninvited_contact(email="ann@acme.example")
    client.force_login(support_user)

    listing = client.get(reverse("admin:licensing_customercontact_changelist"))
    assert listing.status_code == 200
    assert "ann@acme.example" in listing.content.decode()
    assert client.get(change_url(contact)).status_code == 200
    assert invite_url(contact) not in client.get(change_url(contact)).content.decode()

    assert client.get(reverse("admin:licensing_customercontact_add")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post(
                reverse("admin:licensing_customercontact_add"),
                {"customer": str(contact.customer.pk), "email": "sneaky@acme.example", "is_active": "on"},
            ).status_code
            == 403
        )
        assert client.get(invite_url(contact)).status_code == 403
        assert client.post(invite_url(contact)).status_code == 403
        client.post(
            reverse("admin:licensing_customercontact_changelist"),
            {"action": "invite_selected", "_selected_action": [str(contact.pk)], "confirm": "yes"},
        )

    assert not mailoutbox
    assert CustomerContact.objects.count() == 1
    contact.refresh_from_db()
    assert contact.invited_at is None
    assert not AuditEvent.objects.filter(action__startswith="customer_contact.").exists()


def test_licensing_admin_may_add_and_invite(client, licensing_admin, mailoutbox, django_capture_on_commit_callbacks):
    contact = uninvited_contact(email="ann@acme.example")
    client.force_login(licensing_admin)

    assert client.get(reverse("admin:licensing_customercontact_add")).status_code == 200
    assert invite_url(contact) in client.get(change_url(contact)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(invite_url(contact))

    assert response.status_code == 302 and response["Location"] == change_url(contact)
    assert [mail.to for mail in mailoutbox] == [["ann@acme.example"]]


# 5. Query counts.


def test_contact_list_runs_in_constant_queries(client, superuser, django_assert_num_queries):
    client.force_login(superuser)
    url = reverse("admin:licensing_customercontact_changelist")
    CustomerContactFactory.create_batch(2)
    client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200 and response.context["cl"].result_count == 2

    CustomerContactFactory.create_batch(18)
    assert CustomerContact.objects.values("customer").distinct().count() == 20
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert response.context["cl"].result_count == 20


# 6. The customer's page.


def test_customer_page_lists_its_contacts_inline(client, licensing_admin):
    customer = CustomerFactory()
    ann = CustomerContactFactory(customer=customer, email="ann@acme.example", name="Ann Inline")
    bob = CustomerContactFactory(customer=customer, email="bob@acme.example", name="Bob Inline", is_active=False)
    stranger = CustomerContactFactory(email="stranger@other.example")
    client.force_login(licensing_admin)

    response = client.get(change_url(customer))

    assert response.status_code == 200
    page = response.content.decode()
    for contact in (ann, bob):
        assert contact.email in page and contact.name in page
        assert change_url(contact) in page  # show_change_link
    assert stranger.email not in page
    (formset,) = [f for f in response.context["inline_admin_formsets"] if f.opts.model is CustomerContact]
    assert {form.original for form in formset} == {ann, bob}


def test_customer_page_with_many_contacts_renders_in_constant_queries(client, superuser, django_assert_num_queries):
    client.force_login(superuser)
    small, large = CustomerFactory(), CustomerFactory()
    CustomerContactFactory(customer=small)
    CustomerContactFactory.create_batch(20, customer=large)
    client.get(change_url(small))  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        assert client.get(change_url(small)).status_code == 200
    with django_assert_num_queries(len(few)):
        assert client.get(change_url(large)).status_code == 200


# 7. Portal settings.


def test_portal_settings_list_goes_to_the_single_row(client, licensing_admin):
    client.force_login(licensing_admin)

    response = client.get(reverse("admin:licensing_portalsettings_changelist"))

    settings = PortalSettings.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:licensing_portalsettings_change", args=[settings.pk])
    assert client.get(reverse("admin:licensing_portalsettings_changelist")).status_code == 302
    assert PortalSettings.objects.count() == 1


def test_contact_message_saved_in_the_admin_shows_beside_a_disabled_entitlement(client, licensing_admin):
    contact = CustomerContactFactory(raw_password=PASSWORD)
    entitlement = EntitlementFactory(customer=contact.customer)
    services.entitlement_disable(entitlement=entitlement, actor=Actor.system("test"), reason="x")
    settings = PortalSettings.current()
    message = "Email billing at vendor dot example to settle invoice 4711"
    client.force_login(licensing_admin)

    response = client.post(
        change_url(settings),
        {
            "vendor_name": "Vendor Ltd",
            "contact_message": message,
            "renewal_message": "Renew at vendor.example/renew.",
            "support_email": "help@vendor.example",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    settings.refresh_from_db()
    assert settings.contact_message == message
    event = AuditEvent.objects.for_target(settings).get(action__endswith=".updated")
    assert event.actor_label == licensing_admin.username and event.after["contact_message"] == message

    dashboard = signed_in(contact).get("/portal/")
    assert dashboard.status_code == 200
    page = dashboard.content.decode()
    assert message in page
    assert "Vendor Ltd has disabled this entitlement." in page


def test_portal_settings_offer_no_add_or_delete(client, superuser):
    settings = PortalSettings.current()
    client.force_login(superuser)

    change_page = client.get(change_url(settings))

    assert change_page.status_code == 200
    assert reverse("admin:licensing_portalsettings_delete", args=[settings.pk]) not in change_page.content.decode()
    assert reverse("admin:licensing_portalsettings_add") not in change_page.content.decode()
    assert client.get(reverse("admin:licensing_portalsettings_add")).status_code == 403
    assert client.post(reverse("admin:licensing_portalsettings_add"), {"vendor_name": "Two"}).status_code == 403
    delete_url = reverse("admin:licensing_portalsettings_delete", args=[settings.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert PortalSettings.objects.count() == 1


# 8. "May sign in".


def test_a_contact_switched_off_by_staff_cannot_sign_in_and_their_session_ends(client, licensing_admin):
    contact = CustomerContactFactory(raw_password=PASSWORD)
    session = signed_in(contact)
    assert session.get("/portal/").status_code == 200
    contact.refresh_from_db()  # last_login, which password links are made from
    link = accounts.password_link(contact, "http://testserver")
    client.force_login(licensing_admin)

    data = contact_form_data(contact)
    del data["is_active"]  # an unticked checkbox is absent from the POST

    response = client.post(change_url(contact), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    contact.refresh_from_db()
    assert contact.is_active is False
    event = AuditEvent.objects.for_target(contact).get(action="customer_contact.updated")
    assert event.actor_label == licensing_admin.username

    after = session.get("/portal/")
    assert after.status_code == 302 and after["Location"].startswith("/portal/sign-in/")
    assert session.get("/portal/account/").status_code == 302  # the session stays ended

    refused = sign_in_attempt(contact.email, PASSWORD)
    assert refused.status_code == 200
    assert "don&#x27;t match an account" in refused.content.decode()

    browser = Client()
    moved = browser.get(link.removeprefix("http://testserver"))
    refused_link = browser.get(moved["Location"])
    assert refused_link.status_code == 400 and "This link no longer works" in refused_link.content.decode()


# 9. Bad input.


@pytest.mark.parametrize("object_id", ["not-a-uuid", "1", str(uuid.uuid4()), "%00"])
def test_invite_button_for_a_malformed_or_unknown_id_is_404(
    client, licensing_admin, object_id, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(licensing_admin)
    url = f"/admin/licensing/customercontact/{object_id}/actions/invite/"
    assert url.startswith(reverse("admin:licensing_customercontact_changelist"))

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404

    assert not mailoutbox


def test_unknown_button_name_is_404(client, licensing_admin):
    contact = uninvited_contact(email="ann@acme.example")
    client.force_login(licensing_admin)
    url = reverse("admin:licensing_customercontact_action", args=[contact.pk, "delete-everything"])
    assert client.post(url).status_code == 404


def test_bulk_invite_with_a_malformed_id_changes_nothing(
    client, licensing_admin, mailoutbox, django_capture_on_commit_callbacks
):
    contact = uninvited_contact(email="ann@acme.example")
    client.force_login(licensing_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:licensing_customercontact_changelist"),
            {"action": "invite_selected", "_selected_action": [str(contact.pk), "not-a-uuid"]},
            follow=True,
        )

    assert response.status_code == 200
    assert "Some selected items do not exist" in response.content.decode()
    assert not mailoutbox


def test_a_contact_who_may_not_sign_in_is_not_invited(
    client, licensing_admin, mailoutbox, django_capture_on_commit_callbacks
):
    contact = CustomerContactFactory(is_active=False)
    client.force_login(licensing_admin)
    url = reverse("admin:licensing_customercontact_action", args=[contact.pk, "invite"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "may not sign in" in response.content.decode()
    assert mailoutbox == []
    contact.refresh_from_db()
    assert contact.invited_at is None
