"""Nothing is deleted in the admin, by anyone, superusers included: no "Delete selected"
action (offered, then refused with a misleading message, before), no Delete link or page."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from licensing.models import Customer, Device, Product
from tests.factories import CustomerFactory, DeviceFactory, ProductFactory
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_request(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return request


def test_no_model_admin_offers_delete_selected_or_allows_deleting(superuser_request):
    assert admin.site._registry, "the admin has models"
    for model, model_admin in admin.site._registry.items():
        assert "delete_selected" not in model_admin.get_actions(superuser_request), model
        assert model_admin.has_delete_permission(superuser_request) is False, model


@pytest.mark.parametrize(
    ("make", "model"),
    [(ProductFactory, Product), (DeviceFactory, Device), (CustomerFactory, Customer)],
    ids=["product", "device", "customer"],
)
def test_lists_and_pages_offer_no_delete_and_the_delete_page_is_refused(client, superuser, make, model):
    obj = make()
    client.force_login(superuser)
    opts = model._meta
    changelist = client.get(reverse(f"admin:licensing_{opts.model_name}_changelist")).content.decode()
    assert "delete_selected" not in changelist
    page = client.get(change_url(obj)).content.decode()
    assert "deletelink" not in page
    delete_url = reverse(f"admin:licensing_{opts.model_name}_delete", args=[obj.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_forged_delete_selected_deletes_nothing(client, superuser):
    product = ProductFactory()
    client.force_login(superuser)
    url = reverse("admin:licensing_product_changelist")
    client.post(url, {"action": "delete_selected", "_selected_action": [str(product.pk)], "post": "yes"})
    assert Product.objects.filter(pk=product.pk).exists()


def test_staff_users_are_not_deleted_either(client, superuser):
    other = User.objects.create_user("someone", is_staff=True)
    client.force_login(superuser)
    page = client.get(reverse("admin:auth_user_change", args=[other.pk])).content.decode()
    assert "deletelink" not in page
    assert client.post(reverse("admin:auth_user_delete", args=[other.pk]), {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=other.pk).exists()
