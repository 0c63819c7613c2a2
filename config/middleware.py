"""Middleware the client API does without.

Devices call the client API with an HMAC on each request: no cookie, session, signed-in
user or message means anything there, and every check-in would pay for setting them up.
(Its views are exempt from CSRF checks; Django's CSRF middleware stays as it is, where
the deployment checks look for it.) These are Django's middleware, unchanged for every
other path; requests under the client API's prefix go straight past them. The security
headers are still set on every answer.
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware

CLIENT_API_PREFIX = "/api/v4/"


def _not_for_client_api(middleware: type) -> type:
    class Skipped(middleware):
        def __call__(self, request):
            if request.path_info.startswith(CLIENT_API_PREFIX):
                return self.get_response(request)
            return super().__call__(request)

    Skipped.__name__ = Skipped.__qualname__ = middleware.__name__
    Skipped.__doc__ = f"{middleware.__module__}.{middleware.__name__}, except for the client API."
    return Skipped


SessionMiddleware = _not_for_client_api(_SessionMiddleware)
AuthenticationMiddleware = _not_for_client_api(_AuthenticationMiddleware)
MessageMiddleware = _not_for_client_api(_MessageMiddleware)
