"""One JSON shape for every error of the management API:

    {"status": 409, "code": "invalid_transition", "message": "...", "errors": {...}}

`errors` (field → messages) comes only with invalid input. Domain refusals (a switch
from the wrong state, seats still in use) are 409s carrying the service's own code."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ...errors import DomainError


def handle_exception(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(status.HTTP_409_CONFLICT, exc.code, exc.message)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)  # adds WWW-Authenticate, Retry-After
    if response is None:
        return None  # a bug: Django's 500 handling takes it
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
        body["errors"] = errors if isinstance(errors, dict) else {"non_field_errors": errors}
    return body


def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/v1/ answer in the same shape."""
    return JsonResponse(_body(404, "not_found", "No such endpoint."), status=404)
