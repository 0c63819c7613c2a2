"""The project's error pages, for errors no view answered (Django's own input limits,
a failure outside a view): under /api/ they answer in the APIs' own shapes, never with an
HTML page; the client API's, signed like all its answers. Elsewhere, Django's pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from ..errors import SERVER_ERROR, Refusal
from .client.responses import signed_error


def _for_api(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    # path_info: the path within this site, whatever prefix (SCRIPT_NAME) it is served under.
    if request.path_info.startswith("/api/v4/"):
        return signed_error(Refusal(code, message, status=status))
    if request.path_info.startswith("/api/"):
        return JsonResponse({"status": status, "code": code, "message": message}, status=status)
    return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    answer = _for_api(request, 400, "bad_request", "The request exceeds the server's limits or is malformed.")
    return defaults.bad_request(request, exception) if answer is None else answer


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    answer = _for_api(request, 403, "permission_denied", "Not allowed.")
    return defaults.permission_denied(request, exception) if answer is None else answer


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    answer = _for_api(request, 404, "not_found", "No such endpoint.")
    return defaults.page_not_found(request, exception) if answer is None else answer


def server_error(request: HttpRequest) -> HttpResponse:
    answer = _for_api(request, 500, "server_error", SERVER_ERROR)
    return defaults.server_error(request) if answer is None else answer
