"""Signing in to the portal, out of it, and choosing passwords."""

import re

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import Client

from licensing.models import AuditEvent
from tests.factories import StaffUserFactory
from tests.portal.conftest import PASSWORD, signed_in


@pytest.fixture(autouse=True)
def no_earlier_failures():
    cache.clear()  # failed sign-ins are counted in the cache


def sign_in(client: Client, email: str, password: str, **extra):
    return client.post("/portal/sign-in/", {"email": email, "password": password, **extra})


def test_contact_signs_in_with_email_in_any_case_and_lands_on_dashboard(contact):
    client = Client()
    response = sign_in(client, contact.email.upper(), PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200
    assert contact.customer.name in page.content.decode()
    contact.refresh_from_db()
    assert contact.last_login is not None


def test_wrong_password_is_refused_with_a_message_that_does_not_say_which_part_was_wrong(contact):
    response = sign_in(Client(), contact.email, "not it")
    assert response.status_code == 200
    assert "don&#x27;t match an account" in response.content.decode()
    unknown = sign_in(Client(), "nobody@nowhere.example", "not it")
    assert "don&#x27;t match an account" in unknown.content.decode()


def test_signed_out_visitor_is_sent_to_sign_in_and_back_after(contact, holdings):
    entitlement = holdings[0]
    client = Client()
    page = f"/portal/entitlements/{entitlement.pk}/"
    response = client.get(page)
    assert response.status_code == 302 and response["Location"] == f"/portal/sign-in/?next={page.replace('/', '%2F')}"
    response = sign_in(client, contact.email, PASSWORD, next=page)
    assert response["Location"] == page


def test_next_never_leads_off_the_portal(contact):
    for target in ("https://evil.example/", "//evil.example/portal/", "/admin/"):
        response = sign_in(Client(), contact.email, PASSWORD, next=target)
        assert response["Location"] == "/portal/", target


def test_failed_sign_ins_are_throttled_per_address_even_with_the_right_password(contact):
    client = Client()
    for _ in range(5):
        assert "match an account" in sign_in(client, contact.email, "wrong").content.decode()
    blocked = sign_in(client, contact.email, PASSWORD)
    assert blocked.status_code == 200
    assert "Too many failed sign-ins" in blocked.content.decode()
    assert client.get("/portal/").status_code == 302  # still not signed in


def test_failed_sign_ins_are_throttled_per_client_address_across_accounts(contact):
    client = Client()
    for n in range(30):
        sign_in(client, f"guess{n}@customer.example", "Winter2026!")
    assert "Too many failed sign-ins" in sign_in(client, contact.email, PASSWORD).content.decode()
    # Another machine is not held back by this one's guessing.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(other, contact.email, PASSWORD).status_code == 302


def test_successful_sign_in_clears_the_failures_of_that_address(contact):
    client = Client()
    for _ in range(4):
        sign_in(client, contact.email, "wrong")
    assert sign_in(client, contact.email, PASSWORD).status_code == 302
    for _ in range(4):
        sign_in(Client(), contact.email, "wrong")
    assert sign_in(Client(), contact.email, PASSWORD).status_code == 302


def test_staff_users_cannot_sign_in_to_the_portal(db):
    staff = StaffUserFactory(email="staff@vendor.example")
    response = sign_in(Client(), "staff@vendor.example", "staff-password")
    assert response.status_code == 200
    assert "match an account" in response.content.decode()
    assert Client().login(request=HttpRequest(), username=staff.username, password="staff-password")  # the admin does


def test_sign_out_ends_the_portal_session_only(contact, superuser):
    client = signed_in(contact)
    client.force_login(superuser)  # the same browser signed in to the admin too
    response = client.post("/portal/sign-out/")
    assert response["Location"] == "/portal/sign-in/"
    assert client.get("/portal/").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_sign_out_only_by_post(portal):
    assert portal.get("/portal/sign-out/").status_code == 405
    assert portal.get("/portal/").status_code == 200


def test_contact_changes_password_and_other_sessions_end(contact):
    here, elsewhere = signed_in(contact), signed_in(contact)
    response = here.post(
        "/portal/account/",
        {"old_password": PASSWORD, "new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert response.status_code == 302
    assert here.get("/portal/").status_code == 200
    assert elsewhere.get("/portal/").status_code == 302
    contact.refresh_from_db()
    assert contact.check_password("a new long passphrase")
    event = AuditEvent.objects.get(action="customer_contact.password_changed")
    assert event.actor_type == "portal" and event.actor_id == str(contact.pk)


def test_password_change_needs_the_old_password_and_a_strong_new_one(portal, contact):
    wrong_old = portal.post(
        "/portal/account/", {"old_password": "nope", "new_password1": "x" * 12, "new_password2": "x" * 12}
    )
    assert "incorrectly" in wrong_old.content.decode()
    weak = portal.post("/portal/account/", {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"})
    assert "too short" in weak.content.decode()
    contact.refresh_from_db()
    assert contact.check_password(PASSWORD)


def test_license_user_signs_in_and_changes_the_password_the_application_uses(license_user):
    client = signed_in(license_user)
    page = client.get("/portal/").content.decode()
    assert license_user.entitlements.get().product.name in page
    response = client.post(
        "/portal/account/",
        {"old_password": PASSWORD, "new_password1": "fresh license pass", "new_password2": "fresh license pass"},
    )
    assert response.status_code == 302
    license_user.refresh_from_db()
    assert license_user.check_password("fresh license pass")
    assert AuditEvent.objects.filter(action="license_user.password_changed", target_id=license_user.pk).exists()
    assert sign_in(Client(), license_user.username, "fresh license pass").status_code == 302


def _link_from(mail) -> str:
    return re.search(r"http://testserver(/portal/password-reset/\S+/)", mail.body).group(1)


def test_password_reset_by_email_sets_a_new_password_and_the_link_works_once(contact, mailoutbox):
    response = Client().post("/portal/password-reset/", {"email": contact.email.upper()})
    assert "Check your email" in response.content.decode()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [contact.email]
    link = _link_from(mailoutbox[0])

    client = Client()
    form_page = client.get(link, follow=True)
    assert form_page.redirect_chain[-1][0].endswith("/set-password/")  # the token leaves the address bar
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "reset passphrase 9", "new_password2": "reset passphrase 9"}
    )
    assert done["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200  # signed in
    assert sign_in(Client(), contact.email, "reset passphrase 9").status_code == 302

    again = Client().get(link, follow=True)
    assert again.status_code == 400
    assert "no longer works" in again.content.decode()


def test_password_reset_page_says_the_same_for_unknown_addresses(db, mailoutbox):
    response = Client().post("/portal/password-reset/", {"email": "nobody@nowhere.example"})
    assert "Check your email" in response.content.decode()
    assert mailoutbox == []


def test_password_reset_mails_are_limited_per_address(contact, mailoutbox):
    for _ in range(5):
        Client().post("/portal/password-reset/", {"email": contact.email})
    assert len(mailoutbox) == 3


@pytest.mark.parametrize(
    "link",
    [
        "/portal/password-reset/bm90LWEta2V5/abc-123/",
        "/portal/password-reset/%FF%FE/x/",
        "/portal/password-reset/Y29udGFjdDpub3QtYS11dWlk/abc/",  # "contact:not-a-uuid"
        "/portal/password-reset/" + "A" * 5000 + "/t/",
    ],
)
def test_damaged_password_links_say_so_without_error(db, link):
    response = Client().get(link, follow=True)
    assert response.status_code == 400
    assert "no longer works" in response.content.decode()


def test_sign_in_form_rejects_garbage_without_error(db):
    client = Client()
    for data in ({}, {"email": "x" * 10000, "password": "y"}, {"email": "a@b.example", "password": "p" * 5000}):
        assert client.post("/portal/sign-in/", data).status_code == 200
    assert client.post("/portal/sign-in/", {"email": "a\x00@b.example", "password": "x"}).status_code == 200


def test_signed_in_pages_are_never_cached(portal, holdings):
    response = portal.get(f"/portal/entitlements/{holdings[0].pk}/")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
