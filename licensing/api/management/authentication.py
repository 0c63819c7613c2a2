"""Bearer tokens for the management API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ...actors import Actor, client_ip
from ...models import ApiToken
from ...models.credentials import hash_api_token

MAX_TOKEN_LENGTH = 128
# How stale `last_used_at` may get: stamping every request would queue every request of
# a busy integration on that one row.
STAMP_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class TokenHolder:
    """Who a request is from: the system that holds the token (DRF's `request.user`)."""

    token: ApiToken

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self):
        return self.token.pk

    def actor(self, request) -> Actor:
        return Actor.api_token(self.token, client_ip(request))


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None  # no credentials: 401 from the permission check
        if len(header) != 2 or len(header[1]) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        token = ApiToken.objects.filter(token_hash=hash_api_token(raw)).first()
        if token is None or token.is_revoked:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > STAMP_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return TokenHolder(token), token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without a valid token.
        return 'Bearer realm="management-api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the schema describes these tokens."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from the admin or `create_api_token`."}
