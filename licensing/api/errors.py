"""The project's error pages, for errors no view answered (Django's own input limits,
a failure outside a view): under /api/ they answer in the APIs' own shapes, never with an
HTML page; the client API's, signed like all its answers. Elsewhere, Django's pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from ..errors import Refusal
from .client.responses import signed_error


def _for_api(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    if request.path.startswith("/api/v4/"):
        return signed_error(Refusal(code, message, status=status))
    if request.path.startswith("/api/"):
        return JsonResponse({"status": status, "code": code, "message": message}, status=status)
    return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    answer = _for_api(request, 400, "bad_request", "The request exceeds the server's limits or is malformed.")
    return answer or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _for_api(request, 403, "permission_denied", "Not allowed.") or defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _for_api(request, 404, "not_found", "No such endpoint.") or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    answer = _for_api(request, 500, "server_error", "The server failed; try again later.")
    return answer or defaults.server_error(request)
