"""How the management API describes itself in the OpenAPI schema (/api/schema/), beyond
what drf-spectacular reads from the views: the resource each operation is grouped under
(its tag), the error answers every operation can give, in the one shape of `errors.py`,
and what some fields take.

Errors are documented here, once, from what the request cycle of `ManagementView` does,
so that a new view is described as it behaves without a decorator of its own."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import append_meta, build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from .errors import ErrorSerializer
from .serializers import StrictManyRelatedField

UNAUTHENTICATED = "No token, a malformed `Authorization` header, or an unknown or revoked token."
READ_ONLY = "The token is read-only (`read_only_token`): it can read everything and change nothing."
INVALID = (
    "The request is not valid (`invalid`, or `parse_error` for a body that is not JSON), or the change breaks a rule "
    "of the record (fewer seats than licenses hold, a field fixed at creation): `errors` has the messages of each "
    "field."
)
INVALID_FILTER = "A filter takes no such value (an unknown status, a malformed id or date): `errors` names the filter."
NO_PAGE = "No such page."
NOT_JSON = "The body is not JSON by its `Content-Type` (`unsupported_media_type`)."
REFUSED = "The row's current state does not allow this change (`invalid_transition`)."
THROTTLED = "Too many requests with this token (`throttled`)."
URI_TOO_LONG = (
    "The path and query are longer than the web server reads (gunicorn answers this, in plain text, above "
    "4,094 bytes by default): send fewer or shorter filters."
)

WWW_AUTHENTICATE = {
    "schema": {"type": "string"},
    "required": True,
    "description": 'Always `Bearer realm="management-api"`.',
}
RETRY_AFTER = {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}


# The tag of each operation, by the first segment of its path under /api/v1/. The tags'
# descriptions are SPECTACULAR_SETTINGS["TAGS"] (config/settings/base.py); the client
# API's views name theirs in their own extend_schema.
RESOURCE_TAGS = {
    "customers": "Customers",
    "products": "Products",
    "license-transactions": "License transactions",
    # 10Duke's paths to an order's switches, by the customer's kind.
    "organizations": "License transactions",
    "users": "License transactions",
    "entitlements": "Entitlements",
    "activation-codes": "Activation codes",
    "licenses": "Licenses",
    "devices": "Devices",
    "license-users": "License users",
    "product-features": "Features",
    "entitlement-features": "Features",
    "webhook-endpoints": "Webhooks",
    "webhook-deliveries": "Webhooks",
    "audit-events": "Audit",
}


class ManagementSchema(AutoSchema):
    """The schema class of every management view (`ManagementView.schema`)."""

    def get_tags(self) -> list[str]:
        # "/api/v1/customers/{id}/disable/" -> "customers"; a path of a resource not named
        # above keeps drf-spectacular's own tag (its first segment), which the schema
        # tests refuse, so that a new resource gets a group of its own.
        segments = [segment for segment in self.path.split("/") if segment]
        resource = segments[2] if len(segments) > 2 and segments[:2] == ["api", "v1"] else ""
        return [RESOURCE_TAGS[resource]] if resource in RESOURCE_TAGS else super().get_tags()

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        content = {media_type: {"schema": error} for media_type in self.map_renderers("media_type")}
        responses = operation["responses"]
        for status, description, headers in self._errors(operation):
            # A view may describe an error more precisely (which rows a 404 is about); the
            # body is still the one error shape.
            answer = responses.setdefault(str(status), {"description": description})
            answer.setdefault("content", content)
            if headers:
                answer.setdefault("headers", headers)
        # Not ours: the web server's, before any view runs, with a body of its own.
        responses.setdefault("414", {"description": URI_TOO_LONG})
        operation["responses"] = dict(sorted(responses.items()))
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                # An empty filter (`?status=`) is no filter: lists answer as if it were absent.
                parameter["allowEmptyValue"] = True
                if parameter["name"] != "ordering":  # ignores what it does not know, NUL too
                    _no_nul(parameter["schema"])
        return operation

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request":
            schema["additionalProperties"] = False  # serializers.ClosedInput refuses others
            # Rules across fields that an input states for the schema (see LicenseSwitchSerializer).
            schema.update(getattr(serializer, "schema_rules", {}))
            # Here, once each field is described in full: on a field that may be blank, a
            # pattern added earlier would make drf-spectacular offer "" twice (oneOf).
            properties = schema.get("properties", {})
            for name, field in serializer.fields.items():
                if name in properties and isinstance(field, serializers.CharField):
                    _no_nul(properties[name])
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = self._map_field(field, direction, bypass_extensions)
        # Text a request must not send empty says so (drf-spectacular leaves it out).
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and not field.allow_blank
            and schema.get("type") == "string"
            and "minLength" not in schema
        ):
            schema["minLength"] = 1
        if direction == "request" and isinstance(field, StrictManyRelatedField):
            schema["maxItems"] = field.MAX_ITEMS
        return schema

    def _errors(self, operation: dict) -> list[tuple[int, str, dict | None]]:
        """(status, description, headers) of each error this operation can answer with,
        in the order the request cycle meets them."""
        parameters = operation.get("parameters", [])
        listing = getattr(self.view, "action", None) == "list"
        errors: list[tuple[int, str, dict | None]] = [(401, UNAUTHENTICATED, {"WWW-Authenticate": WWW_AUTHENTICATE})]
        if self.method not in SAFE_METHODS:
            errors.append((403, READ_ONLY, None))
        # Throttling runs after the token checks, before the view reads anything.
        errors.append((429, THROTTLED, {"Retry-After": RETRY_AFTER}))
        if "requestBody" in operation:
            errors.append((400, INVALID, None))
            errors.append((415, NOT_JSON, None))
        elif any(parameter["in"] == "query" for parameter in parameters):
            errors.append((400, INVALID_FILTER, None))
        if any(parameter["in"] == "path" for parameter in parameters):
            errors.append((404, self._not_found(), None))
        elif listing:
            errors.append((404, NO_PAGE, None))  # DRF's pagination: a page past the last
        if self._may_be_refused():
            errors.append((409, REFUSED, None))
        return errors

    def _not_found(self) -> str:
        queryset = getattr(self.view, "queryset", None)
        if queryset is None:
            return "Nothing has this id."
        return f"No {queryset.model._meta.verbose_name} has this id."

    def _may_be_refused(self) -> bool:
        """Whether the operation calls a service that may refuse the change from the row's
        current state (a DomainError, answered 409): every switch endpoint (the extra
        actions of a viewset) but those a view names in `refused_as_invalid`, and the
        operations it names in `refusable`."""
        action = getattr(self.view, "action", None) or self.method.lower()
        if self.method in SAFE_METHODS:  # reads refuse nothing
            return False
        if action in getattr(self.view, "refused_as_invalid", ()):
            return False
        if action in getattr(self.view, "refusable", ()):
            return True
        extra_actions = self.view.get_extra_actions() if hasattr(self.view, "get_extra_actions") else []
        return action in {extra.__name__ for extra in extra_actions}

    def get_request_serializer(self):
        # Writes take the view's input serializer (and creating, where it takes more, its
        # own); answers are the representation, the view's serializer class.
        action = getattr(self.view, "action", None)
        if action == "create" and getattr(self.view, "create_input_serializer_class", None):
            return self.view.create_input_serializer_class()
        if action in ("create", "update", "partial_update") and hasattr(self.view, "input_serializer_class"):
            return self.view.input_serializer_class()
        return super().get_request_serializer()

    def _map_field(self, field, direction, bypass_extensions=False):
        # drf-spectacular documents an address of either family as a bare string (DRF never
        # passes the model field's protocol on, so it is always "both"): say it is one.
        if isinstance(field, serializers.IPAddressField) and field.protocol.lower() == "both":
            schema = {
                **build_basic_type(OpenApiTypes.STR),
                "anyOf": [build_basic_type(OpenApiTypes.IP4), build_basic_type(OpenApiTypes.IP6)],
            }
            return append_meta(schema, self._get_serializer_field_meta(field, direction))
        return super()._map_serializer_field(field, direction, bypass_extensions)


def _no_nul(schema: dict) -> None:
    """Free text never holds NUL (the database cannot store it; DRF and Django's forms
    refuse it with a 400): say so, where nothing narrower is said already."""
    if schema.get("type") == "string" and not {"format", "enum", "pattern"} & schema.keys():
        schema["pattern"] = "^[^\\x00]*$"
