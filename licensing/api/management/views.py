"""The management API. Views are thin: an input serializer checks the request, a
service (the same one the admin calls) makes the change, and the answer is the row's
representation (licensing/representations/), effective status included."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db import models
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from ... import limits, metering, representations, selectors, services
from ...models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    EntitlementFeature,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
)
from ...models.entitlements import MAX_TERM
from ...services.renewals import FROM_EXPIRY
from . import filters as api_filters
from . import serializers as api
from .authentication import BearerTokenAuthentication
from .errors import handle_exception
from .pagination import Pages
from .parsers import JSONParser
from .permissions import TokenScope
from .schema import ManagementSchema


class TokenRateThrottle(ScopedRateThrottle):
    """Requests per token, counted in the shared cache, or per process while it is down:
    a Redis outage slows no request and refuses none (licensing.limits.fallback_cache)."""

    cache = limits.fallback_cache


class AlwaysJSON(DefaultContentNegotiation):
    """JSON whatever the request's Accept header or `?format=` asks for: one kind of
    answer, documented, and never a 406 or a 404 for having asked."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class ManagementView:
    """What every management endpoint shares: bearer tokens, read-only tokens limited to
    reading, throttling, and errors in one JSON shape."""

    authentication_classes = [BearerTokenAuthentication]
    # JSON only, both ways: forms cannot say null, a list or an object the way the schema
    # does, and an API answers no HTML (DRF's browsable pages included), errors neither.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    permission_classes = [TokenScope]
    throttle_classes = [TokenRateThrottle]
    throttle_scope = "management"
    schema = ManagementSchema()
    # Actions (methods, on a plain APIView) whose service may refuse the change from the
    # row's current state: a 409. Switch endpoints (extra actions) always may, except
    # those named in `refused_as_invalid`, whose services refuse only as invalid input.
    refusable: tuple[str, ...] = ()
    refused_as_invalid: tuple[str, ...] = ()

    def get_exception_handler(self):
        return handle_exception

    def actor(self):
        return self.request.user.actor(self.request)


class ManagementViewSet(ManagementView, viewsets.GenericViewSet):
    """Rows of one model (`queryset`), listed and shown as their representation."""

    pagination_class = Pages
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    ordering = ["-created_at"]
    ordering_fields = ["created_at", "updated_at"]

    @property
    def model(self) -> type[models.Model]:
        return self.queryset.model

    def get_queryset(self):
        return representations.rows(self.model)

    def get_serializer_class(self):
        return representations.serializer_for(self.model)

    def get_object(self):
        # A malformed id names nothing: 404, as an unknown one (not a database error).
        try:
            uuid.UUID(str(self.kwargs[self.lookup_url_kwarg or self.lookup_field]))
        except ValueError:
            raise exceptions.NotFound(f"No such {self.queryset.model._meta.verbose_name}.") from None
        return super().get_object()

    def answer(self, instance: models.Model, *, status_code: int = status.HTTP_200_OK, **shown_once) -> Response:
        """The row as it stands now, represented; `shown_once`: secrets this one answer
        carries (a new code in full, a new signing secret)."""
        return Response({**representations.represent(instance), **shown_once}, status=status_code)


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ManagementViewSet,
):
    """List, retrieve, create and update (PUT or PATCH); never delete: history stays.

    Writes take `input_serializer_class` (`create_input_serializer_class` where creating
    takes more, such as a license user's password) and call the resource's services:
    `create_service(<service_argument>=new row, actor=...)` and
    `update_service(<service_argument>=row, data=..., actor=...)`."""

    input_serializer_class: type[serializers.Serializer]
    create_input_serializer_class: type[serializers.Serializer] | None = None
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    service_argument = ""

    def get_serializer_class(self):
        # OPTIONS describes what each write method takes (DRF's metadata asks for the
        # serializer of POST and PUT); every other use is the representation.
        if getattr(self, "action", None) == "metadata" and self.request.method in ("POST", "PUT"):
            if self.request.method == "POST" and self.create_input_serializer_class:
                return self.create_input_serializer_class
            return self.input_serializer_class
        return super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        serializer_class = self.create_input_serializer_class or self.input_serializer_class
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return self.created(dict(serializer.validated_data))

    def created(self, data: dict[str, Any]) -> Response:
        row = self.create_service(**{self.service_argument: self.model(**data)}, actor=self.actor())
        return self.answer(row, status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        row = self.get_object()
        serializer = self.input_serializer_class(
            row, data=request.data, partial=kwargs.get("partial", False), context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        row = self.update_service(**{self.service_argument: row}, data=serializer.validated_data, actor=self.actor())
        return self.answer(row)


class SwitchesMixin:
    """Switch endpoints: each calls one service with the row and a reason."""

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

    endpoint.__name__ = endpoint.__qualname__ = name.replace("-", "_")
    endpoint.__doc__ = service.__doc__
    routed = action(detail=True, methods=list(methods), url_path=name)(endpoint)
    return extend_schema(request=api.ReasonSerializer)(routed)


class ProductViewSet(RecordViewSet):
    queryset = Product.objects.all()
    input_serializer_class = api.ProductInputSerializer
    create_service = staticmethod(services.product_create)
    update_service = staticmethod(services.product_update)
    service_argument = "product"
    filterset_class = api_filters.ProductFilters
    search_fields = ["name", "code"]
    ordering_fields = ["name", "code", "created_at", "updated_at"]

    def created(self, data: dict[str, Any]) -> Response:
        # A new product has no features yet, so its trial grants none: the input refused
        # any code, and what is left (an empty list) is no link to set.
        data.pop("trial_features", None)
        return super().created(data)


class CustomerViewSet(SwitchesMixin, RecordViewSet):
    queryset = Customer.objects.all()
    input_serializer_class = api.CustomerInputSerializer
    create_service = staticmethod(services.customer_create)
    update_service = staticmethod(services.customer_update)
    service_argument = "customer"
    filterset_class = api_filters.CustomerFilters
    search_fields = ["name", "email", "external_id"]
    ordering_fields = ["name", "created_at", "updated_at", "status_changed_at"]

    disable = switch(services.customer_disable, "disable", methods=("post", "patch"))
    enable = switch(services.customer_enable, "enable", methods=("post", "patch"))


class LicenseTransactionViewSet(RecordViewSet):
    queryset = LicenseTransaction.objects.all()
    input_serializer_class = api.LicenseTransactionInputSerializer
    create_service = staticmethod(services.transaction_create)
    update_service = staticmethod(services.transaction_update)
    service_argument = "license_transaction"
    filterset_class = api_filters.LicenseTransactionFilters
    search_fields = ["external_id", "customer__name"]
    ordering_fields = ["processed_at", "external_id", "created_at", "updated_at"]


class EntitlementViewSet(SwitchesMixin, RecordViewSet):
    queryset = Entitlement.objects.all()
    input_serializer_class = api.EntitlementInputSerializer
    create_service = staticmethod(services.entitlement_create)
    update_service = staticmethod(services.entitlement_update)
    service_argument = "entitlement"
    filterset_class = api_filters.EntitlementFilters
    search_fields = ["customer__name", "customer__email", "product__name", "product__code"]
    ordering_fields = ["valid_from", "valid_until", "seats", "created_at", "updated_at"]

    disable = switch(services.entitlement_disable, "disable", methods=("post", "patch"))
    enable = switch(services.entitlement_enable, "enable", methods=("post", "patch"))
    # Their services refuse a change from the row's state (a perpetual entitlement has
    # nothing to renew, a paid one is no trial) as invalid input, a 400, never a 409.
    refused_as_invalid = ("renew", "convert_trial")

    @extend_schema(
        request=api.RenewalSerializer,
        responses={
            200: representations.serializer_for(Entitlement),
            400: OpenApiResponse(
                description="The body is not valid (`invalid`, or `parse_error` for a body that is not JSON): both "
                "or neither of `valid_until` and `days`, `from` without `days`, or a new end that is not later than "
                f"now and than the current end, or is more than {MAX_TERM.days} days away. Also when the entitlement "
                "never ends: there is nothing to renew (`non_field_errors`). Nothing is changed."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="renew", filter_backends=[], pagination_class=None)
    def renew(self, request, pk=None):
        """Move the end of validity later: to `valid_until`, or by `days`, counted from the
        current end (`"from": "expiry"`, the default) or from now (`"from": "now"`). Clients
        see the new end at their next check, and an expired entitlement works again at once.
        Recorded in the audit trail and announced as entitlement.renewed."""
        entitlement = self.get_object()
        renewal = api.RenewalSerializer(data=request.data)
        renewal.is_valid(raise_exception=True)
        data = renewal.validated_data
        renewed = services.entitlement_renew(
            entitlement=entitlement,
            actor=self.actor(),
            valid_until=data.get("valid_until"),
            days=data.get("days"),
            start=data.get("from", FROM_EXPIRY),
            reason=data["reason"],
        )
        return self.answer(renewed)

    @extend_schema(
        request=api.TrialConversionSerializer,
        responses={
            200: representations.serializer_for(Entitlement),
            400: OpenApiResponse(
                description="The body is not valid (`invalid`, or `parse_error` for a body that is not JSON): no "
                "customer has this id, or `valid_until` is not in the future. Also when the entitlement is not a "
                "trial (`non_field_errors`). Nothing is changed."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="convert-trial", filter_backends=[], pagination_class=None)
    def convert_trial(self, request, pk=None):
        """Make a trial a paid entitlement in one step: no longer a trial (`is_trial`
        false), optionally of another existing customer (`customer`) and with a new end
        (`valid_until`; null: none). Its activation codes and licenses stay, so activated
        devices keep working without activating again. Recorded in the audit trail and
        announced as trial.converted."""
        entitlement = self.get_object()
        conversion = api.TrialConversionSerializer(data=request.data)
        conversion.is_valid(raise_exception=True)
        data = conversion.validated_data
        # Left out, the end stays; null is a value (no end), so only a given key is passed.
        end = {"valid_until": data["valid_until"]} if "valid_until" in data else {}
        converted = services.trial_convert(
            entitlement=entitlement, actor=self.actor(), customer=data.get("customer"), reason=data["reason"], **end
        )
        return self.answer(converted)

    @extend_schema(responses=representations.FloatingSlotSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="floating-slots", filter_backends=[])
    def floating_slots(self, request, pk=None):
        """The devices holding a slot of this floating entitlement now, the longest held first."""
        entitlement = self.get_object()
        now = timezone.now()
        slots = selectors.floating_slots(now=now).filter(entitlement=entitlement)
        page = self.paginate_queryset(slots)
        shown = representations.FloatingSlotSerializer(page, many=True, context={"now": now}).data
        return self.get_paginated_response(shown)

    @extend_schema(parameters=[api.UsageQuerySerializer], responses=api.UsageSerializer)
    @action(detail=True, methods=["get"], url_path="usage", filter_backends=[], pagination_class=None)
    def usage(self, request, pk=None):
        """What the entitlement's meters (its own, when metered, and each consumption
        feature's) count in their current period, and what was consumed per day (UTC),
        corrections included, newest first."""
        # An empty value is no filter, as in every list's filters.
        query = api.UsageQuerySerializer(data={k: v for k, v in request.query_params.items() if v != ""})
        query.is_valid(raise_exception=True)
        return self.usage_answer(self.get_object(), **query.validated_data)

    def usage_answer(self, entitlement: Entitlement, feature: str | None = None, start=None, end=None) -> Response:
        days = metering.usage_by_day(entitlement, feature=feature, start=start, end=end)
        current = metering.current_usage(entitlement, timezone.now())
        if feature is not None:
            current = [meter for meter in current if meter["feature"] == feature]
        return Response(api.UsageSerializer({"current": current, "days": days}).data)

    @extend_schema(request=api.UsageCorrectionSerializer, responses=api.UsageSerializer)
    @action(detail=True, methods=["post"], url_path="correct-usage", filter_backends=[], pagination_class=None)
    def correct_usage(self, request, pk=None):
        """Correct what a meter counted this period, up or down, with a reason: recorded as
        a correction (in the usage history and the audit trail), never an edit of the count."""
        entitlement = self.get_object()
        correction = api.UsageCorrectionSerializer(data=request.data, context={"entitlement": entitlement})
        correction.is_valid(raise_exception=True)
        services.consumption_correct(entitlement=entitlement, **correction.validated_data, actor=self.actor())
        return self.usage_answer(entitlement)


class ProductFeatureViewSet(RecordViewSet):
    """Features a product declares: modules clients open (activation) or units they meter
    (consumption). Entitlements grant them (entitlement-features)."""

    queryset = ProductFeature.objects.all()
    input_serializer_class = api.ProductFeatureInputSerializer
    create_service = staticmethod(services.product_feature_create)
    update_service = staticmethod(services.product_feature_update)
    service_argument = "product_feature"
    filterset_class = api_filters.ProductFeatureFilters
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "created_at", "updated_at"]


class EntitlementFeatureViewSet(RecordViewSet):
    """The features granted to entitlements, each with its value, expiry and (for a
    consumption feature) the terms of its counter. A change reaches the entitlement's
    clients at their next check and is announced as entitlement.updated."""

    queryset = EntitlementFeature.objects.all()
    input_serializer_class = api.EntitlementFeatureInputSerializer
    create_service = staticmethod(services.entitlement_feature_grant)
    update_service = staticmethod(services.entitlement_feature_update)
    service_argument = "entitlement_feature"
    filterset_class = api_filters.EntitlementFeatureFilters
    ordering_fields = ["created_at", "updated_at", "expires_at"]


class ActivationCodeViewSet(SwitchesMixin, RecordViewSet):
    queryset = ActivationCode.objects.all()
    input_serializer_class = api.ActivationCodeInputSerializer
    create_service = staticmethod(services.activation_code_create)
    update_service = staticmethod(services.activation_code_update)
    service_argument = "activation_code"
    filterset_class = api_filters.ActivationCodeFilters
    # Exact only: a code is a secret, so a partial match must not list its neighbours.
    search_fields = ["=code"]

    def created(self, data: dict[str, Any]) -> Response:
        code = self.create_service(activation_code=ActivationCode(**data), actor=self.actor())
        # The one answer that carries the code in full.
        return self.answer(code, status_code=status.HTTP_201_CREATED, code=code.code)

    disable = switch(services.activation_code_disable, "disable", methods=("post", "patch"))
    enable = switch(services.activation_code_enable, "enable", methods=("post", "patch"))
    revoke = switch(services.activation_code_revoke, "revoke")


class LicenseUserViewSet(RecordViewSet):
    queryset = LicenseUser.objects.all()
    input_serializer_class = api.LicenseUserInputSerializer
    create_input_serializer_class = api.LicenseUserCreateInputSerializer
    update_service = staticmethod(services.license_user_update)
    service_argument = "license_user"
    filterset_class = api_filters.LicenseUserFilters
    search_fields = ["username", "name"]
    ordering_fields = ["username", "created_at", "updated_at"]

    def created(self, data: dict[str, Any]) -> Response:
        password, entitlements = data.pop("password"), data.pop("entitlements", [])
        user = services.license_user_create(
            license_user=LicenseUser(**data), password=password, entitlements=entitlements, actor=self.actor()
        )
        return self.answer(user, status_code=status.HTTP_201_CREATED)


class DeviceViewSet(RecordViewSet):
    queryset = Device.objects.all()
    input_serializer_class = api.DeviceInputSerializer
    create_service = staticmethod(services.device_create)
    update_service = staticmethod(services.device_update)
    service_argument = "device"
    filterset_class = api_filters.DeviceFilters
    search_fields = ["hardware_id", "hostname"]
    ordering_fields = ["hardware_id", "hostname", "created_at", "updated_at"]


class LicenseViewSet(SwitchesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """Licenses come from activations; here they are listed, switched and deactivated."""

    queryset = License.objects.all()
    filterset_class = api_filters.LicenseFilters
    search_fields = ["device__hardware_id", "device__hostname"]
    ordering_fields = ["activated_at", "last_check_in_at", "created_at", "updated_at"]
    ordering = ["-activated_at"]
    service_argument = "license"
    refusable = ("partial_update",)  # the suspend, resume and revoke switches

    @extend_schema(request=api.LicenseSwitchSerializer, responses=representations.serializer_for(License))
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
    release_floating = switch(services.license_floating_release, "release-floating")


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    queryset = AuditEvent.objects.all()
    filterset_class = api_filters.AuditEventFilters
    search_fields = ["target_repr", "actor_label", "reason"]
    ordering_fields = ["occurred_at"]
    ordering = ["-occurred_at"]


# 10Duke-style transaction switches --------------------------------------------------


class TransactionLicenses(ManagementView, APIView):
    """`PUT /{organizations|users}/{customer_id}/license-transactions/{external_id}/
    {suspend|resume}-licenses`: suspend or resume everything one order provisioned."""

    kind = Customer.Kind.ORGANIZATION
    suspend = True
    refusable = ("put",)

    @extend_schema(
        request=api.ReasonSerializer,
        responses={
            200: representations.TRANSACTION_LICENSES_SCHEMA,
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
        return Response(representations.transaction_licenses(transaction))

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
