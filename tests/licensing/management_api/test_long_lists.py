"""Long lists are counted only up to a limit, in the admin and the management API: below
it the count is exact; past it the list says so, and every row can still be reached page
by page, to the end and no further."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import pages
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIMIT = 5


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(pages, "COUNT_LIMIT", LIMIT)
    monkeypatch.setattr(pages.LimitedCountPaginator, "limit_shown", str(LIMIT))
    monkeypatch.setattr(pages, "MAX_OFFSET", 100)


def test_a_list_within_the_limit_is_counted_exactly(api, small_limit):
    CustomerFactory.create_batch(LIMIT)
    answer = api.get("/api/v1/customers", {"page_size": 2}).json()
    assert (answer["count"], len(answer["results"])) == (LIMIT, 2)
    last = api.get("/api/v1/customers", {"page_size": 2, "page": 3}).json()
    assert (len(last["results"]), last["next"]) == (1, None)
    assert api.get("/api/v1/customers", {"page_size": 2, "page": 4}).status_code == 404


def test_past_the_limit_the_count_is_null_and_next_links_reach_every_row(api, small_limit):
    names = {customer.name for customer in CustomerFactory.create_batch(2 * LIMIT + 2)}
    seen, url, pages_read = [], "/api/v1/customers?page_size=3", 0
    while url:
        answer = api.get(url).json()
        assert answer["count"] is None
        seen += [row["name"] for row in answer["results"]]
        url, pages_read = answer["next"], pages_read + 1
    assert (sorted(seen), pages_read) == (sorted(names), 4)
    assert api.get("/api/v1/customers", {"page_size": 3, "page": 5}).status_code == 404
    assert api.get("/api/v1/customers", {"page_size": 3, "page": "x"}).status_code == 404
    assert api.get("/api/v1/customers", {"page_size": 3, "page": 0}).status_code == 404


def test_counting_reads_no_more_rows_than_the_limit(api, small_limit):
    CustomerFactory.create_batch(LIMIT + 3)
    api.get("/api/v1/customers")  # the token's use is stamped once a minute: not here
    with CaptureQueriesContext(connection) as captured:
        api.get("/api/v1/customers")
    [count] = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert f"LIMIT {LIMIT + 1}" in count


def test_the_admin_says_when_a_list_is_longer_than_it_counted(client, superuser, small_limit):
    CustomerFactory.create_batch(LIMIT + 1)
    client.force_login(superuser)
    page = client.get(reverse("admin:licensing_customer_changelist")).content.decode()
    assert f"More than {LIMIT} customers: filter or search to narrow them down." in page
    CustomerFactory._meta.model.objects.order_by("created_at").first().delete()
    page = client.get(reverse("admin:licensing_customer_changelist")).content.decode()
    assert f"{LIMIT} customers" in page and "More than" not in page


def test_the_admin_pages_on_past_the_count_to_the_last_row(client, superuser, small_limit, monkeypatch):
    from licensing.admin.customers import CustomerAdmin

    monkeypatch.setattr(CustomerAdmin, "list_per_page", 3)
    names = {customer.name for customer in CustomerFactory.create_batch(3 * LIMIT)}
    client.force_login(superuser)
    url, seen = reverse("admin:licensing_customer_changelist"), []
    for page in range(1, 6):
        html = client.get(url, {"p": page}).content.decode()
        seen += [name for name in names if f">{name}<" in html]
        assert ("Next ›" in html) == (page < 5)
    assert sorted(seen) == sorted(names)


@pytest.mark.parametrize("page", ["10000", "1" + "0" * 30, "last"])
def test_pages_far_past_the_count_or_the_last_are_refused_not_searched(api, small_limit, page):
    """No request makes the database skip millions of rows or overflow its OFFSET, and
    past the count there is no known last page: each is a 404, as a page past the end."""
    CustomerFactory.create_batch(LIMIT + 2)
    assert api.get("/api/v1/customers", {"page_size": 2, "page": page}).status_code == 404


def test_a_list_longer_than_its_count_offers_no_select_all_and_refuses_a_forged_one(
    client, superuser, small_limit, monkeypatch
):
    """Django's "Select all" would read "Select all 5 customers" and act on every row
    that matches, however many: not offered, and refused if posted anyway."""
    from licensing.admin.customers import CustomerAdmin
    from licensing.models import Customer

    monkeypatch.setattr(CustomerAdmin, "list_per_page", 2)
    client.force_login(superuser)
    url = reverse("admin:licensing_customer_changelist")
    CustomerFactory.create_batch(LIMIT)
    assert f"Select all {LIMIT} customers" in client.get(url).content.decode()  # counted: offered
    seen = CustomerFactory()
    assert "Select all" + f" {LIMIT} customers" not in client.get(url).content.decode()

    forged = {"action": "disable_selected", "select_across": "1", "index": "0", "_selected_action": [str(seen.pk)]}
    page = client.post(url, forged, follow=True).content.decode()

    assert f"More than {LIMIT} rows match" in page
    assert not Customer.objects.disabled().exists()
