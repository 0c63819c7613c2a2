"""A Content-Security-Policy for every page the server renders (the admin, the portal,
the API docs): scripts, styles, images and fonts come from this server only, nothing
runs inline, and no other site may frame a page. An injected tag that slipped past
escaping could neither run nor load anything."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
INLINE_STYLES_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def allowing_inline_styles(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The policy, with inline styles allowed, for a page whose own script sets them as
    it renders (Swagger UI's); scripts stay as strict."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", INLINE_STYLES_POLICY)
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    """Sets POLICY on every HTML answer that has no policy of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
