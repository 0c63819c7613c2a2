"""One JSON shape for every error of the management API:

    {"status": 409, "code": "invalid_transition", "message": "...", "errors": {...}}

`errors` (field → messages) comes only with invalid input: a request of the wrong shape,
or an edit a service refuses by its rules (fewer seats than licenses hold, a field fixed
at creation). A switch from the wrong state is a 409 carrying the service's own code."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ...errors import SERVER_ERROR, DomainError, InvalidEdit

logger = logging.getLogger(__name__)


def handle_exception(exc: Exception, context: dict) -> Response:
    """Every error of a management view as the one JSON shape: what DRF knows, the
    domain's refusals, Django's own input limits, and (logged) our bugs."""
    if isinstance(exc, SuspiciousOperation):  # a body too large, too many fields or files
        return error_response(status.HTTP_400_BAD_REQUEST, "bad_request", "The request exceeds the server's limits.")
    if isinstance(exc, InvalidEdit):
        errors = {"non_field_errors" if name == "__all__" else name: messages for name, messages in exc.errors.items()}
        return Response(_body(400, "invalid", "The request is not valid.", errors=errors), status=400)
    if isinstance(exc, DomainError):
        return error_response(status.HTTP_409_CONFLICT, exc.code, exc.message)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)  # adds WWW-Authenticate, Retry-After
    if response is None:
        logger.error("management API request failed", exc_info=exc)
        return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        response.data = _body(response.status_code, "invalid", "The request is not valid.", errors=exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = _body(response.status_code, code, str(detail))
    return response


def error_response(status_code: int, code: str, message: str) -> Response:
    return Response(_body(status_code, code, message), status=status_code)


def _body(status_code: int, code: str, message: str, errors: Any = None) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if errors is not None:
        fields = errors if isinstance(errors, dict) else {"non_field_errors": errors}
        body["errors"] = {str(name): _messages(detail) for name, detail in fields.items()}
    return body


MESSAGES_PER_FIELD = 20


def _messages(detail: Any) -> list[str]:
    """A field's messages as one list of text, as documented: errors of a list's items or
    of a nested object ({"2": ["not a valid choice"]}) say where they are ("item 2: ...").
    At most MESSAGES_PER_FIELD: a list of a thousand wrong items is not echoed back."""
    messages = list(itertools.islice(_each_message(detail), MESSAGES_PER_FIELD + 1))
    if len(messages) > MESSAGES_PER_FIELD:
        messages[-1] = "More errors like these were left out."
    return messages


def _each_message(detail: Any, where: str = "") -> Iterator[str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _each_message(value, f"{where}{_place(key)}: ")
    elif isinstance(detail, list | tuple):
        for value in detail:
            yield from _each_message(value, where)
    else:
        yield f"{where}{detail}"


def _place(key: Any) -> str:
    return f"item {key}" if str(key).isdigit() else str(key)


# Named apart from the client API's "Error", whose shape differs.
@extend_schema_serializer(component_name="ManagementError")
class ErrorSerializer(serializers.Serializer):
    """Every error of the management API has this shape."""

    status = serializers.IntegerField(help_text="The HTTP status of the answer.")
    code = serializers.CharField(
        help_text="For programs: `invalid`, `parse_error`, `bad_request`, `not_authenticated`, "
        "`authentication_failed`, `read_only_token`, `not_found`, `wrong_customer_kind`, `unsupported_media_type`, "
        "`throttled`, `server_error`, or the code of a refused change (`invalid_transition`)."
    )
    message = serializers.CharField(help_text="For people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: the messages of each field or filter (`non_field_errors` for the whole).",
    )


@csrf_exempt  # as the API views are: else a PUT to an unknown path got Django's HTML 403
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/v1/ answer in the same shape, whatever the method."""
    return JsonResponse(_body(404, "not_found", "No such endpoint."), status=404)
