"""Webhook delivery: one signed attempt at a time, retried with backoff.

Deliveries are written by the outbox (licensing/outbox.py) and sent from here, by a
Celery task in production or by a thread of the web process in the embedded default.
Whoever runs `attempt` first claims the delivery with a conditional UPDATE, so a
message delivered twice, or re-queued while the first is still on its way, sends once.

Deliveries go only to public addresses: an endpoint's URL is checked when it is saved
(`url_problem`), and every connection is checked again on the address the host resolves
to at that moment, and made to that very address (requests-hardened pins it), so a
name that is re-pointed at an internal address after the check (DNS rebinding) is
refused too. LICENSING_WEBHOOK_ALLOW_INTERNAL lifts this for development and tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import random
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from standardwebhooks.webhooks import Webhook

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

# What an attempt keeps of a receiver's answer: the start of a text body, enough to
# debug a receiver that refuses, and nothing of a body that is not text.
RESPONSE_EXCERPT_BYTES = 256
TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml")
USER_AGENT = "licensing-server-webhooks/1"


# --- Where deliveries may go -------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why events may not be sent to `url`, or None. A host that does not resolve now is
    let through: every delivery checks the address it resolves to then."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Give an https:// URL."
    if parts.scheme == "http" and not settings.LICENSING_WEBHOOK_ALLOW_HTTP:
        return "Use an https:// URL: events carry your customers' data."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The port must be a number from 1 to 65535."
    if settings.LICENSING_WEBHOOK_ALLOW_INTERNAL:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return None
    for address in sorted(addresses):
        if is_internal(ipaddress.ip_address(address.split("%")[0])):
            return f"{parts.hostname} is an internal address ({address}); events go only to public addresses."
    return None


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, shared, multicast, reserved and the like: anything
    not reachable on the public internet, as deliveries refuse them too."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast or any(address in net for net in EXTRA_BLOCKED_NET_RANGES)


# --- What is due ----------------------------------------------------------------------


def overdue(*, grace: float, limit: int = 500) -> list[uuid.UUID]:
    """Pending deliveries due `grace` seconds ago or more and not in flight."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now - dt.timedelta(seconds=grace)
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- One attempt -------------------------------------------------------------------


def attempt(delivery_id: uuid.UUID | str) -> float | None:
    """Try one delivery if it is due and nobody else is on it. Returns the seconds until
    its next try when it should be retried, else None."""
    now = timezone.now()
    # Long enough for a request that uses its timeout twice (to connect, then to read)
    # and for recording it; after that the claim's worker is presumed dead.
    claim_seconds = 2 * settings.LICENSING_WEBHOOK_TIMEOUT + 5
    # The claim: only one worker wins it, however many messages name this delivery.
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + dt.timedelta(seconds=claim_seconds))
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if not delivery.endpoint.is_active:
        outcome = Outcome(error="The endpoint is inactive.", retry=False)
    else:
        outcome = send(delivery.event, delivery.endpoint)
    return _record(delivery, outcome)


class Outcome:
    def __init__(
        self, *, status_code: int | None = None, excerpt: str = "", error: str = "", retry: bool, ms: int = 0
    ) -> None:
        self.status_code, self.excerpt, self.error, self.retry, self.ms = status_code, excerpt, error, retry, ms

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_sessions = threading.local()


def _session() -> requests.Session:
    """One session per thread (and policy) keeps connections to receivers open between
    deliveries. Each connection is checked on the address it is made to."""
    allow_internal = settings.LICENSING_WEBHOOK_ALLOW_INTERNAL
    sessions = _sessions.__dict__.setdefault("by_policy", {})
    if allow_internal not in sessions:
        config = Config(
            ip_filter_enable=not allow_internal,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,  # a redirect is the receiver's misconfiguration, not ours to follow
            default_timeout=None,
        )
        sessions[allow_internal] = HTTPSession(config)
    return sessions[allow_internal]


def signed_headers(event: WebhookEvent, endpoint: WebhookEndpoint, now: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers, signed at send time with every current secret."""
    signatures = [
        Webhook(secret).sign(msg_id=event.message_id, timestamp=now, data=event.payload)
        for secret in endpoint.signing_secrets(now)
    ]
    return {
        "webhook-id": event.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def send(event: WebhookEvent, endpoint: WebhookEndpoint) -> Outcome:
    """POST the event once. Any 2xx is success; timeouts, connection errors, 429 and 5xx
    are worth retrying; any other answer is final, and so is an address deliveries may
    not go to. Errors are said in our own words: they are shown to anyone who may read
    deliveries, and must not describe what lies behind an address."""
    started = time.monotonic()
    if urlsplit(endpoint.url).scheme != "https" and not settings.LICENSING_WEBHOOK_ALLOW_HTTP:
        return Outcome(error="Not sent: the endpoint's URL is not https.", retry=False)
    headers = signed_headers(event, endpoint, dt.datetime.now(dt.UTC))
    try:
        response = _session().post(
            endpoint.url,
            data=event.payload.encode(),
            headers=headers,
            timeout=settings.LICENSING_WEBHOOK_TIMEOUT,
            allow_redirects=False,
            stream=True,
        )
        with response:
            excerpt = _excerpt(response)
    except InvalidIPAddress:
        error = "Not sent: the endpoint's host resolves to an internal address."
        return Outcome(error=error, retry=False, ms=_ms(started))
    except requests.RequestException as exc:
        return Outcome(error=_failure(exc), retry=True, ms=_ms(started))
    code = response.status_code
    return Outcome(status_code=code, excerpt=excerpt, retry=code >= 500 or code == 429, ms=_ms(started))


def _excerpt(response: requests.Response) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.startswith(TEXT_TYPES):
        return f"({content_type or 'no content type'}: not kept)"
    return response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")


def _failure(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"No answer within {settings.LICENSING_WEBHOOK_TIMEOUT:g} seconds."
    if isinstance(exc, requests.exceptions.SSLError):
        return "The TLS handshake failed (is the receiver's certificate valid for its host name?)."
    if isinstance(exc, requests.ConnectionError):
        return "Could not connect to the receiver."
    return "The request failed."


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(delivery: WebhookDelivery, outcome: Outcome) -> float | None:
    now = timezone.now()
    delays = settings.LICENSING_WEBHOOK_RETRY_DELAYS
    tries = delivery.tries + 1
    retry_in = None
    if outcome.succeeded:
        status, next_at, completed = WebhookDelivery.Status.SUCCEEDED, None, now
    elif outcome.retry and tries <= len(delays):
        retry_in = backoff(delays[tries - 1])
        status, next_at, completed = WebhookDelivery.Status.PENDING, now + dt.timedelta(seconds=retry_in), None
    else:
        status, next_at, completed = WebhookDelivery.Status.FAILED, None, now
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=now - dt.timedelta(milliseconds=outcome.ms),
            duration_ms=outcome.ms,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            succeeded=outcome.succeeded,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            tries=tries,
            next_attempt_at=next_at,
            claimed_until=None,
            last_attempt_at=now,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            completed_at=completed,
        )
    return retry_in


def backoff(delay: float) -> float:
    """The configured delay with ±20% jitter, so that endpoints recovering from an
    outage are not hit by every retry at the same instant."""
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (timing, not a secret)


# --- The embedded default: deliveries from a thread of the web process ---------------


class InlineDispatcher:
    """Delivers without a broker: one daemon thread that sends whatever is due, then
    sleeps until the next retry is due or a new delivery is queued."""

    IDLE_SECONDS = 5.0

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="webhook-deliveries", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping:
            close_old_connections()
            try:
                for delivery_id in overdue(grace=0):
                    attempt(delivery_id)
                timeout = self._seconds_until_due()
            except Exception:
                logger.exception("inline webhook delivery failed")
                timeout = self.IDLE_SECONDS
            finally:
                close_old_connections()
            self._wake.wait(timeout=timeout)
            self._wake.clear()
        close_old_connections()

    def _seconds_until_due(self) -> float:
        next_at = (
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if next_at is None:
            return self.IDLE_SECONDS
        return max(0.0, min((next_at - timezone.now()).total_seconds(), self.IDLE_SECONDS))


_dispatcher: InlineDispatcher | None = None
_dispatcher_lock = threading.Lock()


def inline_dispatcher() -> InlineDispatcher:
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = InlineDispatcher()
        return _dispatcher


def stop_inline_dispatcher() -> None:
    """Stop the delivery thread, if one runs (tests; a process that is shutting down)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is not None:
            _dispatcher.stop()
            _dispatcher = None
