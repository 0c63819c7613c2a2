"""Who makes a change: the actor every service takes and every audit event names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import AuditEvent

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""
    ip: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(AuditEvent.ActorType.SYSTEM, label=label)

    @classmethod
    def client(cls, credential: Any, ip: str | None) -> Actor:
        return cls(AuditEvent.ActorType.CLIENT, id=str(credential.pk), label=credential.name, ip=ip)

    @classmethod
    def api_token(cls, token: Any, ip: str | None) -> Actor:
        return cls(AuditEvent.ActorType.API_TOKEN, id=str(token.pk), label=token.name, ip=ip)

    @classmethod
    def portal(cls, account: Any, request: HttpRequest) -> Actor:
        return cls(AuditEvent.ActorType.PORTAL, id=str(account.pk), label=account.email_address, ip=client_ip(request))

    @classmethod
    def staff(cls, request: HttpRequest) -> Actor:
        user = request.user
        return cls(AuditEvent.ActorType.STAFF, id=str(user.pk), label=user.get_username(), ip=client_ip(request))


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: trusting X-Forwarded-For needs a known proxy in front, which is a
    # deployment decision (set it in the proxy-aware middleware, not here).
    return request.META.get("REMOTE_ADDR") or None
