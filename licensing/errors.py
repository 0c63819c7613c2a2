from __future__ import annotations

from .rules import Reason


class DomainError(Exception):
    """A change the domain does not allow. `code` is machine-readable, the message is for people."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(DomainError):
    code = "invalid_transition"


class InvalidEdit(DomainError):
    """An edit the rules refuse, field by field (`errors`: field name → messages, with
    `__all__` for the record as a whole), in the shape forms and serializers use."""

    code = "invalid"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(" ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


class Refusal(DomainError):
    """A client request the licensing rules refuse, with its client API error code and,
    where the table gives one, the reason of the access rules."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        status: int = 400,
        retry_after: int | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # whole seconds, for a refusal that passes with time
        self.extra = extra or {}  # fields a code adds to the body (`next_slot_at`)

    def body(self) -> dict:
        """The JSON error clients are answered with."""
        body = {"status": self.status, "code": self.code, "message": self.message}
        if self.reason:
            body["reason"] = self.reason
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return {**self.extra, **body}

    @classmethod
    def from_body(cls, body: dict) -> Refusal:
        """The refusal `body()` was made from (a stored offline answer)."""
        known = {"code", "message", "reason", "status", "retry_after"}
        return cls(
            body["code"],
            body["message"],
            reason=body.get("reason"),
            status=body["status"],
            retry_after=body.get("retry_after"),
            extra={name: value for name, value in body.items() if name not in known},
        )


class TryLater(Refusal):
    """A refusal that passes with time (too many requests, too many wrong passwords):
    never the final answer to an offline request, which would keep it for good."""

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message, status=429, retry_after=max(1, retry_after))


def refusal_for(verdict) -> Refusal:
    """The client error for a verdict that is not active."""
    reason = verdict.reason
    code = {
        Reason.CUSTOMER_DISABLED: "license_not_enabled",
        Reason.ENTITLEMENT_DISABLED: "license_not_enabled",
        Reason.TRANSACTION_SUSPENDED: "license_not_enabled",
        Reason.CODE_DISABLED: "license_not_enabled",
        Reason.LICENSE_SUSPENDED: "license_not_enabled",
        Reason.NOT_YET_VALID: "license_not_active",
        Reason.EXPIRED: "license_not_active",
        Reason.CODE_REVOKED: "license_revoked",
        Reason.LICENSE_REVOKED: "license_revoked",
        Reason.LICENSE_DEACTIVATED: "device_not_found",
    }[reason]
    if code == "device_not_found":
        return Refusal(code, "No active license for this device; activate it first.")
    return Refusal(code, f"{verdict.label}.", reason=reason.value)


# What every interface says of its own failure (the traceback goes to the log).
SERVER_ERROR = "The server failed; try again later."
