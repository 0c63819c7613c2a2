"""The management API (DESIGN.md §4). Views are thin: they read and validate, call the
same services as the admin, and answer with the row as the list query computes it
(effective status included)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from ... import rules, services
from ...models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
)
from ...querysets import seats_held
from . import filters as api_filters
from . import serializers as api
from .authentication import BearerTokenAuthentication
from .errors import handle_exception
from .pagination import Pages
from .permissions import TokenScope
from .schema import ManagementSchema


class ManagementView:
    """What every management endpoint shares: bearer tokens, read-only tokens limited to
    reading, throttling, and errors in one JSON shape."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TokenScope]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "management"
    schema = ManagementSchema()
    # Actions (methods, on a plain APIView) whose service may refuse the change from the
    # row's current state: a 409. Switch endpoints (extra actions) always may.
    refusable: tuple[str, ...] = ()

    def get_exception_handler(self):
        return handle_exception

    def actor(self):
        return self.request.user.actor(self.request)


class ManagementViewSet(ManagementView, viewsets.GenericViewSet):
    pagination_class = Pages
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    ordering = ["-created_at"]
    ordering_fields = ["created_at", "updated_at"]

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if getattr(self.request, "user", None) is not None:
            context["actor"] = self.actor()
        return context

    def get_object(self):
        # A malformed id names nothing: 404, as an unknown one (not a database error).
        try:
            uuid.UUID(str(self.kwargs[self.lookup_url_kwarg or self.lookup_field]))
        except ValueError:
            raise exceptions.NotFound(f"No such {self.queryset.model._meta.verbose_name}.") from None
        return super().get_object()

    def fresh(self, instance):
        """The row again, as a list would show it (annotations included)."""
        return self.get_queryset().get(pk=instance.pk)

    def answer(self, instance, *, status_code: int = status.HTTP_200_OK, **context) -> Response:
        serializer = self.get_serializer_class()(
            self.fresh(instance), context={**self.get_serializer_context(), **context}
        )
        return Response(serializer.data, status=status_code)


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ManagementViewSet,
):
    """List, retrieve, create and update (PUT or PATCH); never delete: history stays."""

    # What creating takes, where it is more than updating takes (a license user's password).
    # Answers still show the row with `serializer_class`.
    create_serializer_class: type[serializers.Serializer] | None = None

    def create(self, request, *args, **kwargs):
        serializer_class = self.create_serializer_class or self.get_serializer_class()
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return self.answer(serializer.save(), status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        return self.answer(serializer.save())


class SwitchesMixin:
    """Switch endpoints: each calls one service with the row and a reason."""

    service_argument = ""

    def flip(self, service: Callable, request) -> Response:
        instance = self.get_object()
        reason = api.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        service(**{self.service_argument: instance}, actor=self.actor(), reason=reason.validated_data["reason"])
        return self.answer(instance)


def switch(service: Callable, name: str, *, methods=("post",)):
    """An endpoint `POST /<resource>/{id}/<name>` that calls `service`."""

    def endpoint(self, request, pk=None):
        return self.flip(service, request)

    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = service.__doc__
    routed = action(detail=True, methods=list(methods), url_path=name)(endpoint)
    return extend_schema(request=api.ReasonSerializer)(routed)


class ProductViewSet(RecordViewSet):
    queryset = Product.objects.all()
    serializer_class = api.ProductSerializer
    filterset_class = api_filters.ProductFilters
    search_fields = ["name", "code"]
    ordering_fields = ["name", "code", "created_at", "updated_at"]


class CustomerViewSet(SwitchesMixin, RecordViewSet):
    queryset = Customer.objects.all()
    serializer_class = api.CustomerSerializer
    filterset_class = api_filters.CustomerFilters
    search_fields = ["name", "email", "external_id"]
    ordering_fields = ["name", "created_at", "updated_at", "status_changed_at"]
    service_argument = "customer"

    def get_queryset(self):
        return Customer.objects.with_effective_status()

    disable = switch(services.customer_disable, "disable", methods=("post", "patch"))
    enable = switch(services.customer_enable, "enable", methods=("post", "patch"))


class LicenseTransactionViewSet(RecordViewSet):
    queryset = LicenseTransaction.objects.all()
    serializer_class = api.LicenseTransactionSerializer
    filterset_class = api_filters.LicenseTransactionFilters
    search_fields = ["external_id", "customer__name"]
    ordering_fields = ["processed_at", "external_id", "created_at", "updated_at"]


class EntitlementViewSet(SwitchesMixin, RecordViewSet):
    queryset = Entitlement.objects.all()
    serializer_class = api.EntitlementSerializer
    filterset_class = api_filters.EntitlementFilters
    search_fields = ["customer__name", "customer__email", "product__name", "product__code"]
    ordering_fields = ["valid_from", "valid_until", "seats", "created_at", "updated_at"]
    service_argument = "entitlement"
    refusable = ("update", "partial_update")  # fewer seats than licenses hold

    def get_queryset(self):
        return Entitlement.objects.with_effective_status().with_seats_used()

    disable = switch(services.entitlement_disable, "disable", methods=("post", "patch"))
    enable = switch(services.entitlement_enable, "enable", methods=("post", "patch"))


class ActivationCodeViewSet(SwitchesMixin, RecordViewSet):
    queryset = ActivationCode.objects.all()
    serializer_class = api.ActivationCodeSerializer
    filterset_class = api_filters.ActivationCodeFilters
    # Exact only: a code is a secret, so a partial match must not list its neighbours.
    search_fields = ["=code"]
    service_argument = "activation_code"

    def get_queryset(self):
        return ActivationCode.objects.with_effective_status().annotate(seats_used=seats_held("activation_code", "pk"))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The one answer that carries the code in full.
        return self.answer(serializer.save(), status_code=status.HTTP_201_CREATED, reveal_code=True)

    disable = switch(services.activation_code_disable, "disable", methods=("post", "patch"))
    enable = switch(services.activation_code_enable, "enable", methods=("post", "patch"))
    revoke = switch(services.activation_code_revoke, "revoke")


class LicenseUserViewSet(RecordViewSet):
    queryset = LicenseUser.objects.all()
    serializer_class = api.LicenseUserSerializer
    create_serializer_class = api.LicenseUserCreateSerializer
    filterset_class = api_filters.LicenseUserFilters
    search_fields = ["username", "name"]
    ordering_fields = ["username", "created_at", "updated_at"]

    def get_queryset(self):
        return LicenseUser.objects.prefetch_related(Prefetch("entitlements", Entitlement.objects.only("pk")))


class DeviceViewSet(RecordViewSet):
    queryset = Device.objects.all()
    serializer_class = api.DeviceSerializer
    filterset_class = api_filters.DeviceFilters
    search_fields = ["hardware_id", "hostname"]
    ordering_fields = ["hardware_id", "hostname", "created_at", "updated_at"]


class LicenseViewSet(SwitchesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """Licenses come from activations; here they are listed, switched and deactivated."""

    queryset = License.objects.all()
    serializer_class = api.LicenseSerializer
    filterset_class = api_filters.LicenseFilters
    search_fields = ["device__hardware_id", "device__hostname"]
    ordering_fields = ["activated_at", "last_check_in_at", "created_at", "updated_at"]
    ordering = ["-activated_at"]
    service_argument = "license"
    refusable = ("partial_update",)  # the suspend, resume and revoke switches

    def get_queryset(self):
        return License.objects.with_effective_status().select_related("device")

    @extend_schema(request=api.LicenseSwitchSerializer, responses=api.LicenseSerializer)
    def partial_update(self, request, pk=None):
        """Suspend (`{"suspended": true}`), resume (`{"suspended": false}`) or revoke
        (`{"revoked": true}`), with an optional `reason`."""
        license = self.get_object()
        switch_request = api.LicenseSwitchSerializer(data=request.data)
        switch_request.is_valid(raise_exception=True)
        data = switch_request.validated_data
        if data.get("revoked"):
            service = services.license_revoke
        else:
            service = services.license_suspend if data["suspended"] else services.license_resume
        service(license=license, actor=self.actor(), reason=data.get("reason", ""))
        return self.answer(license)

    deactivate = switch(services.license_deactivate, "deactivate")


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = api.AuditEventSerializer
    filterset_class = api_filters.AuditEventFilters
    search_fields = ["target_repr", "actor_label", "reason"]
    ordering_fields = ["occurred_at"]
    ordering = ["-occurred_at"]


# 10Duke-style transaction switches --------------------------------------------------

TRANSACTION_LICENSE_FIELDS = {
    "id": serializers.UUIDField(),
    "active": serializers.BooleanField(),
    "seatsTaken": serializers.IntegerField(),
    "seatsTotal": serializers.IntegerField(),
    "effectiveStatus": serializers.ChoiceField(choices=rules.EffectiveStatus.choices),
    "effectiveReason": serializers.ChoiceField(choices=rules.Reason.choices, allow_null=True),
}
TRANSACTION_BODY = inline_serializer(
    "TransactionLicenses",
    {
        "transaction": inline_serializer(
            "Transaction",
            {
                "id": serializers.UUIDField(),
                "externalId": serializers.CharField(),
                "processed": serializers.DateTimeField(),
                "status": serializers.ChoiceField(choices=LicenseTransaction.Status.choices),
                "items": inline_serializer(
                    "TransactionItem",
                    {
                        "id": serializers.UUIDField(),
                        "productId": serializers.UUIDField(),
                        "quantity": serializers.IntegerField(),
                        "licenseValidFrom": serializers.DateTimeField(),
                        "licenseValidUntil": serializers.DateTimeField(allow_null=True),
                        "licenses": inline_serializer("TransactionLicense", TRANSACTION_LICENSE_FIELDS, many=True),
                    },
                    many=True,
                ),
            },
        )
    },
)


class TransactionLicenses(ManagementView, APIView):
    """`PUT /{organizations|users}/{customer_id}/license-transactions/{external_id}/
    {suspend|resume}-licenses`: suspend or resume everything one order provisioned."""

    kind = Customer.Kind.ORGANIZATION
    suspend = True
    refusable = ("put",)

    @extend_schema(
        request=api.ReasonSerializer,
        responses={
            200: TRANSACTION_BODY,
            404: OpenApiResponse(
                description="No customer of this kind has this id (`wrong_customer_kind` if one of the other kind "
                "has), or the customer has no order with this external id."
            ),
        },
    )
    def put(self, request, customer_id, external_id):
        customer = self._customer(customer_id)
        transaction = get_object_or_404(LicenseTransaction, customer=customer, external_id=external_id)
        reason = api.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        service = services.transaction_suspend if self.suspend else services.transaction_resume
        service(license_transaction=transaction, actor=self.actor(), reason=reason.validated_data["reason"])
        transaction.refresh_from_db()
        return Response(transaction_body(transaction))

    def _customer(self, customer_id: str) -> Customer:
        try:
            customer = Customer.objects.get(pk=uuid.UUID(customer_id))
        except (ValueError, Customer.DoesNotExist):
            raise exceptions.NotFound("No such customer.") from None
        if customer.kind != self.kind:
            path = "organizations" if customer.kind == Customer.Kind.ORGANIZATION else "users"
            raise WrongCustomerKind(f"This customer is {customer.get_kind_display().lower()}: use /api/v1/{path}/.")
        return customer


class WrongCustomerKind(exceptions.NotFound):
    default_code = "wrong_customer_kind"


def transaction_body(transaction: LicenseTransaction) -> dict:
    """The 10Duke shape of DESIGN.md §4: an item per entitlement, each with its seats."""
    entitlements = transaction.entitlements.with_effective_status().with_seats_used().order_by("created_at", "pk")
    return {
        "transaction": {
            "id": str(transaction.pk),
            "externalId": transaction.external_id,
            "processed": transaction.processed_at,
            "status": transaction.status,
            "items": [
                {
                    "id": str(entitlement.pk),
                    "productId": str(entitlement.product_id),
                    "quantity": entitlement.seats,
                    "licenseValidFrom": entitlement.valid_from,
                    "licenseValidUntil": entitlement.valid_until,
                    "licenses": [
                        {
                            "id": str(entitlement.pk),
                            "active": entitlement.effective_status == rules.EffectiveStatus.ACTIVE,
                            "seatsTaken": entitlement.seats_used,
                            "seatsTotal": entitlement.seats,
                            "effectiveStatus": entitlement.effective_status,
                            "effectiveReason": entitlement.effective_reason or None,
                        }
                    ],
                }
                for entitlement in entitlements
            ],
        }
    }
