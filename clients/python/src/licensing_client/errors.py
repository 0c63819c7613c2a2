"""Every way the library says no, as one exception per meaning.

All derive from :class:`LicenseError`, so ``except LicenseError`` catches everything the
library raises on purpose. Refusals by the server come only from verified answers: an
answer whose signature does not verify is :class:`SignatureInvalid`, never a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


class LicenseError(Exception):
    """A refusal by the server (``code`` as the client API names it, ``reason`` when the
    server gives one), or a local verification that failed (a ``code`` of the library's own)."""

    default_code = "license_error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        reason: str | None = None,
        status: int | None = None,
        answer: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message or code or self.default_code)
        self.code = code or self.default_code
        self.message = message
        self.reason = reason
        self.status = status
        self.answer: Mapping[str, Any] = answer or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r}, message={self.message!r})"


# --- Refusals by the server (verified answers) ---------------------------------------


class LicenseDisabled(LicenseError):
    """``license_not_enabled``: switched off; ``reason`` is customer_disabled,
    entitlement_disabled, transaction_suspended, code_disabled or license_suspended."""


class LicenseNotActive(LicenseError):
    """``license_not_active``: outside the validity window."""


class LicenseExpired(LicenseNotActive):
    """``license_not_active`` with reason ``expired``."""


class LicenseNotYetValid(LicenseNotActive):
    """``license_not_active`` with reason ``not_yet_valid``."""


class LicenseRevoked(LicenseError):
    """``license_revoked``: revoked for good (reason code_revoked or license_revoked)."""


class LicenseNotFound(LicenseError):
    """``license_not_found`` or ``unknown_product``."""


class SeatsExhausted(LicenseError):
    """``license_activated_max_times``: no seat is free."""


class DeviceNotFound(LicenseError):
    """``device_not_found``: this device holds no license (never activated, or deactivated)."""


class FloatingNotAvailable(LicenseError):
    """``floating_not_available``: every floating slot is running; ``next_slot_at`` is when
    the earliest ends unless its holder renews it."""

    @property
    def next_slot_at(self) -> dt.datetime | None:
        return parse_time(self.answer.get("next_slot_at"))


class FeatureNotAvailable(LicenseError):
    """``feature_not_found`` or ``feature_expired``."""


class ConsumptionLimitReached(LicenseError):
    """``consumption_limit_reached``: nothing was counted."""


class TrialNotAllowed(LicenseError):
    """``trial_not_allowed`` (reason ``converted``: this machine's trial became a paid license)."""


class InvalidCredentials(LicenseError):
    """``invalid_credentials``: a wrong username or password."""


class RateLimited(LicenseError):
    """``rate_limited`` or ``too_many_attempts`` (HTTP 429); ``retry_after`` in seconds."""

    @property
    def retry_after(self) -> float | None:
        value = self.answer.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class TooManyAttempts(RateLimited):
    """``too_many_attempts``: too many password attempts for this user; never retried."""


# --- Local verification ---------------------------------------------------------------


class SignatureInvalid(LicenseError):
    """An answer, a cache file or a license file whose Ed25519 signature does not verify
    with the application's public key (or that is malformed): tampered with, or not from
    this server."""

    default_code = "signature_invalid"


class ReplayedAnswer(LicenseError):
    """A validly signed answer to another request (its ``nonce`` is not the one sent)."""

    default_code = "replayed_answer"


class WrongDevice(LicenseError):
    """A validly signed answer, cache or license file about another ``hardware_id``."""

    default_code = "wrong_device"


class ClockTampered(LicenseError):
    """The system clock is earlier than a trusted time already seen (a signed
    ``server_time`` or a license file's ``issued_at``) by more than the tolerance."""

    default_code = "clock_tampered"


class ServerUnreachable(LicenseError):
    """The server could not be reached (or kept failing), and no cached lease covers now.
    ``request_id`` is the id to send again for a count that may or may not have landed."""

    default_code = "server_unreachable"

    def __init__(self, message: str = "", *, request_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_id = request_id


class LeaseExpired(ServerUnreachable):
    """The server is unreachable and the cached lease (or license file) has ended."""

    default_code = "lease_expired"


_BY_CODE: dict[str, type[LicenseError]] = {
    "license_not_enabled": LicenseDisabled,
    "license_revoked": LicenseRevoked,
    "license_not_found": LicenseNotFound,
    "unknown_product": LicenseNotFound,
    "license_activated_max_times": SeatsExhausted,
    "device_not_found": DeviceNotFound,
    "floating_not_available": FloatingNotAvailable,
    "feature_not_found": FeatureNotAvailable,
    "feature_expired": FeatureNotAvailable,
    "consumption_limit_reached": ConsumptionLimitReached,
    "trial_not_allowed": TrialNotAllowed,
    "invalid_credentials": InvalidCredentials,
    "rate_limited": RateLimited,
    "too_many_attempts": TooManyAttempts,
}


def refusal(answer: Mapping[str, Any], status: int | None = None) -> LicenseError:
    """The exception for a verified error answer of the client API."""
    code = str(answer.get("code") or "unknown_error")
    reason = answer.get("reason")
    cls: type[LicenseError] = _BY_CODE.get(code, LicenseError)
    if code == "license_not_active":
        cls = {"expired": LicenseExpired, "not_yet_valid": LicenseNotYetValid}.get(str(reason), LicenseNotActive)
    return cls(str(answer.get("message") or code), code=code, reason=reason, status=status, answer=answer)


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time of an answer (``...Z``) as an aware datetime; None for null."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
