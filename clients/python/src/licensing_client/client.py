"""LicenseClient: the client API, with every answer verified before it is believed."""

from __future__ import annotations

import base64
import datetime as dt
import json
import platform
import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from . import __version__
from .answers import Feature, License, Trial
from .errors import (
    ClockTampered,
    DeviceNotFound,
    FeatureNotAvailable,
    LeaseExpired,
    LicenseError,
    RateLimited,
    ReplayedAnswer,
    ServerUnreachable,
    SignatureInvalid,
    TooManyAttempts,
    WrongDevice,
    parse_time,
    refusal,
)
from .hardware import hardware_id as machine_hardware_id
from .offline import auth_headers, load_public_key, read_license_file, request_file, verify
from .store import Store, default_cache_dir

# The library's own failures: never a reason to forget the cache, never answered from it.
_LOCAL = (SignatureInvalid, ReplayedAnswer, WrongDevice, ClockTampered, ServerUnreachable)


class LicenseClient:
    """One product's license on this machine.

    ``public_key_pem`` is the server's public key, shipped with the application (never
    fetched at run time). ``cache_dir`` holds the last verified answer and the highest
    trusted time (default: the user's cache directory). ``license_key`` or ``username``
    name the license when the application keeps it itself (by default the one
    :meth:`activate` stored is used). ``hardware_id`` overrides :func:`hardware_id`. ``clock_tolerance`` (seconds, or a
    timedelta) is how far the system clock may lag a trusted time before
    :class:`ClockTampered`; the default matches the server's 15 minutes for ``Date``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        shared_key: str,
        public_key_pem: str | bytes,
        product: str,
        *,
        cache_dir: str | Path | None = None,
        clock_tolerance: float | dt.timedelta = 900.0,
        timeout: float = 10.0,
        hardware_id: str | None = None,
        license_key: str | None = None,
        username: str | None = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_wait: float = 60.0,
        clock: Callable[[], float] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.shared_key = shared_key
        self.public_key = load_public_key(public_key_pem)
        self.product = product
        self.hardware_id = hardware_id or machine_hardware_id(product)
        self.store = Store(Path(cache_dir) if cache_dir is not None else default_cache_dir(), product)
        tolerance = clock_tolerance.total_seconds() if isinstance(clock_tolerance, dt.timedelta) else clock_tolerance
        self.clock_tolerance = float(tolerance)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_wait = max_retry_wait
        # The system clock, as epoch seconds; and the pause between retries. Both may be
        # replaced (tests move time; an application may log its waits).
        self.clock: Callable[[], float] = clock or time.time
        self.sleep: Callable[[float], None] = time.sleep
        self.session = session or requests.Session()
        # The license to check, when the application keeps it itself (else: the one this
        # machine activated, from the cache directory).
        self._identity: dict[str, str] = self._identity_of(license_key, username) if license_key or username else {}
        self._random = random.SystemRandom()
        self._lock = threading.RLock()  # one request at a time (a FloatingSession checks in from a thread)

    # --- Activation and checks ------------------------------------------------------

    def activate(
        self,
        license_key: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        **facts: Any,
    ) -> License:
        """Activate this device (by license key, or by username and password). ``facts``
        are optional device facts (``app_ver``, ``is_vm``...); hostname, os_ver and
        sdk_ver are filled in."""
        identity = self._identity_of(license_key, username)
        fields: dict[str, Any] = {
            **identity,
            "password": password,
            "hostname": socket.gethostname()[:255],
            "os_ver": platform.platform()[:255],
            "sdk_ver": f"licensing-client/{__version__}",
            **facts,
        }
        answer = self._license_call("POST", "activate_license", fields)
        self._identity = identity
        self.store.save_identity(identity)
        return answer

    def check(self) -> License:
        """Check the license in (renewing the lease, or a floating slot). When the server
        cannot be reached, the last verified answer is used until its lease ends."""
        identity = self._known_identity()
        headers = {"License-Key": identity["license_key"]} if "license_key" in identity else {}
        fields = {k: v for k, v in identity.items() if k != "license_key"}
        try:
            return self._license_call("GET", "check_license", fields, headers=headers)
        except ServerUnreachable as error:
            return self._offline(error)

    def deactivate(self) -> None:
        """Give this device's seat back, and forget the cached license."""
        self._send("POST", "deactivate_license", self._known_identity(), text="license_deactivated")
        self.store.forget()
        self.store.forget_identity()
        self._identity = {}

    def trial_key(self, email: str) -> Trial:
        """A trial key for this machine (the same one every time it asks)."""
        data, _, _, _ = self._send("GET", "trial_key", {"email": email})
        return Trial(data)

    @property
    def license(self) -> License | None:
        """The cached license, verified again now (whatever its lease); None when there is
        none or it does not verify (tampered, another device's)."""
        try:
            return self._cached()
        except LicenseError:
            return None

    # --- Features and consumption ---------------------------------------------------

    def check_feature(self, code: str) -> Feature:
        """One granted feature in full. Offline: from the cached license's
        ``product_features`` while its lease holds."""
        try:
            data, _, _, _ = self._send("GET", "check_license_feature", {**self._known_identity(), "feature": code})
        except ServerUnreachable as error:
            cached = self._offline(error)
            for feature in cached.data.get("product_features") or []:
                if isinstance(feature, Mapping) and feature.get("code") == code:
                    return Feature(feature, from_cache=True)
            raise FeatureNotAvailable(f"{code} is not granted", code="feature_not_found") from error
        return self._feature(data, code)

    def add_consumption(self, n: int = 1, request_id: str | None = None) -> License:
        """Count ``n`` on the license's own meter. Retries (here, or yours after
        ServerUnreachable: its ``request_id``) reuse the request id: counted once."""
        request_id = request_id or str(uuid.uuid4())
        fields = {**self._known_identity(), "consumptions": n, "request_id": request_id}
        return self._license_call("POST", "add_consumption", fields, request_id=request_id)

    def add_feature_consumption(self, code: str, n: int = 1, request_id: str | None = None) -> Feature:
        """Count ``n`` on a consumption feature; counted once per ``request_id``."""
        request_id = request_id or str(uuid.uuid4())
        fields = {**self._known_identity(), "feature": code, "consumptions": n, "request_id": request_id}
        data, _, _, _ = self._send("POST", "add_feature_consumption", fields, request_id=request_id)
        return self._feature(data, code)

    # --- Floating -------------------------------------------------------------------

    def release(self) -> None:
        """Give the floating slot back (the device stays activated)."""
        self._send("POST", "floating/release", self._known_identity(), text="floating_released")
        self.store.forget()  # a released slot's lease must not be used offline

    def borrow(self, until: dt.datetime | None = None) -> License:
        """Keep the floating slot until ``until`` (default: the longest allowed), to run offline."""
        stamp = until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if until else None
        return self._license_call("POST", "floating/borrow", {**self._known_identity(), "borrowed_until": stamp})

    # --- Offline files --------------------------------------------------------------

    def offline_request(
        self,
        request: str = "activation",
        license_key: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        """An offline request file (base64 text) for this machine, to carry to a connected one."""
        self._check_clock()
        identity = self._identity_of(license_key, username) if (license_key or username) else self._known_identity()
        return request_file(
            request,
            api_key=self.api_key,
            shared_key=self.shared_key,
            product=self.product,
            hardware_id=self.hardware_id,
            moment=self.clock(),
            password=password,
            hostname=socket.gethostname()[:255],
            os_ver=platform.platform()[:255],
            sdk_ver=f"licensing-client/{__version__}",
            **identity,
        )

    def verify_license_file(self, text: str, *, save: bool = True) -> License:
        """The license of a license file, verified: signed by the server, about this
        machine and this product, and not past its ``expires_at`` by this machine's
        (checked) clock. Kept as the cached license when ``save``."""
        license = self._file_license(text)
        if save:
            self.store.save_license_file(text)
        return license

    # --- Internals ------------------------------------------------------------------

    def _identity_of(self, license_key: str | None, username: str | None) -> dict[str, str]:
        if bool(license_key) == bool(username):
            raise ValueError("give either license_key or username")
        return {"license_key": license_key} if license_key else {"username": str(username)}

    def _known_identity(self) -> dict[str, str]:
        if self._identity:
            return self._identity
        if stored := self.store.identity():
            return stored
        cached = self.license
        if cached is not None and (cached.license_key or cached.user):
            return {"license_key": cached.license_key} if cached.license_key else {"username": str(cached.user)}
        raise DeviceNotFound("not activated on this machine (activate first)", code="device_not_found")

    def _check_clock(self) -> float:
        now = self.clock()
        trusted = self.store.trusted_time()
        if trusted is not None and now < trusted - self.clock_tolerance:
            lag = trusted - now
            raise ClockTampered(f"the system clock is {lag:.0f} s earlier than a trusted time already seen")
        return now

    def _trust(self, moment: dt.datetime | None) -> None:
        if moment is not None:
            self.store.raise_trusted_time(moment.timestamp())

    def _license_call(
        self,
        method: str,
        endpoint: str,
        fields: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> License:
        try:
            data, body, signature, nonce = self._send(method, endpoint, fields, headers=headers, request_id=request_id)
        except _LOCAL:
            raise
        except LicenseError as error:
            if error.code in _STOPPING:
                self.store.forget()  # a refusal must not be undone by going offline
            raise
        if not isinstance(data, Mapping):
            raise SignatureInvalid("a text answer where a license body was expected")
        details = data.get("product_details")
        if not isinstance(details, Mapping) or details.get("short_code") != self.product:
            # The request's signature covers only its date: a proxy may have asked about
            # another product of this machine, whose answer is signed all the same.
            raise WrongDevice(f"an answer about another product, not {self.product!r}")
        self.store.save_answer(body=body, signature=signature, nonce=nonce)
        return License(data)

    @staticmethod
    def _feature(data: Any, code: str) -> Feature:
        """A feature answer, if it is about the feature asked for (the request's feature
        is not covered by its signature)."""
        if not isinstance(data, Mapping) or data.get("code") != code:
            raise ReplayedAnswer(f"an answer about another feature, not {code!r}")
        return Feature(data)

    def _send(
        self,
        method: str,
        endpoint: str,
        fields: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        text: str | None = None,
        request_id: str | None = None,
    ) -> tuple[Any, bytes, str, str]:
        """One request, retried on transport errors, 5xx and 429: the verified answer
        (a dict, or the text when ``text`` is expected), its body, signature and nonce.
        Refusals (4xx) raise their exception at once."""
        with self._lock:
            return self._send_locked(method, endpoint, fields, headers=headers, text=text, request_id=request_id)

    def _send_locked(
        self,
        method: str,
        endpoint: str,
        fields: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None,
        text: str | None,
        request_id: str | None,
    ) -> tuple[Any, bytes, str, str]:
        self._check_clock()
        nonce = secrets.token_urlsafe(18)
        payload = {k: v for k, v in fields.items() if v is not None}
        payload.update(product=self.product, hardware_id=self.hardware_id, nonce=nonce)
        url = f"{self.base_url}/api/v4/{endpoint}"
        attempt = 0
        while True:
            wait: float | None = None
            problem = ""
            request_headers = {**auth_headers(self.api_key, self.shared_key, self.clock()), **(headers or {})}
            try:
                if method == "GET":
                    response = self.session.get(url, params=payload, headers=request_headers, timeout=self.timeout)
                else:
                    response = self.session.post(
                        url,
                        data=json.dumps(payload).encode(),
                        headers={**request_headers, "Content-Type": "application/json"},
                        timeout=self.timeout,
                    )
            except requests.RequestException as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                status = response.status_code
                if status >= 500:
                    problem = f"HTTP {status}"
                else:
                    try:
                        answer = self._verified(response, nonce)
                    except SignatureInvalid:
                        if status != 429:
                            raise
                        problem = "HTTP 429 (unsigned)"  # a proxy's, say: transient like a 5xx
                        wait = _retry_after(response, None)
                    else:
                        if (text is None or status >= 400) and not isinstance(answer, dict):
                            # A signed plain text where a JSON answer (bound to this
                            # request) belongs: a captured "license_deactivated", say.
                            raise ReplayedAnswer("a signed text answer where a JSON answer was expected")
                        if status == 429:
                            error = refusal(answer, status)
                            if isinstance(error, TooManyAttempts) or attempt >= self.max_retries:
                                raise error
                            wait = _retry_after(response, error)
                            problem = "HTTP 429"
                        elif status >= 400:
                            raise refusal(answer, status)
                        else:
                            if text is not None and answer != text:
                                raise SignatureInvalid(f"expected {text!r}, got another signed answer")
                            if request_id is not None and answer.get("request_id") != request_id:
                                # A count's answer echoes its request_id: anything else (a
                                # check's answer to a rewritten request) counted nothing.
                                raise ReplayedAnswer("an answer to another request (not this count's request_id)")
                            return answer, response.content, response.headers.get("LicenseSignature", ""), nonce
            if attempt >= self.max_retries:
                raise ServerUnreachable(f"{endpoint}: {problem}", request_id=request_id)
            delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + self._random.random() / 2)
            if wait is not None:
                delay = max(delay, min(wait, self.max_retry_wait))
            self.sleep(delay)
            attempt += 1

    def _verified(self, response: requests.Response, nonce: str) -> Any:
        """The answer, if signed by the server's key for this request and this device."""
        body = response.content
        verify(self.public_key, body, response.headers.get("LicenseSignature"))
        # Told apart by the signed bytes, never by Content-Type, which is not signed: a
        # JSON answer relabelled as text must still prove its nonce and device.
        try:
            answer = json.loads(body)
        except ValueError:
            try:
                return body.decode()  # a plain-text answer ("license_deactivated")
            except UnicodeDecodeError as error:
                raise SignatureInvalid("a signed answer that is neither JSON nor text") from error
        if not isinstance(answer, dict):
            raise SignatureInvalid("a signed answer that is not a JSON object")
        self._bound(answer, nonce)
        self._trust(parse_time(answer.get("server_time")))
        return answer

    def _bound(self, answer: Mapping[str, Any], nonce: str | None) -> None:
        if answer.get("hardware_id") != self.hardware_id:
            raise WrongDevice(f"an answer about device {answer.get('hardware_id')!r}, not this one")
        if nonce is not None and answer.get("nonce") != nonce:
            raise ReplayedAnswer("a signed answer to another request (its nonce is not the one sent)")

    def _cached(self) -> License | None:
        """The cached license, verified again: signature, device and product. Raises
        SignatureInvalid (tampered), WrongDevice; None when nothing is cached."""
        try:
            record = self.store.load()
        except ValueError as error:
            raise SignatureInvalid("the cache file is not readable") from error
        if record is None:
            return None
        try:
            if record.get("kind") == "file":
                return self._file_license(str(record["text"]), check_expiry=False, from_cache=True)
            body = base64.b64decode(record["body"], validate=True)
            verify(self.public_key, body, record.get("signature"))
            data = json.loads(body)
        except (KeyError, TypeError, ValueError) as error:
            raise SignatureInvalid("the cache file is malformed") from error
        if not isinstance(data, dict):
            raise SignatureInvalid("the cached answer is not a license")
        self._bound(data, record.get("nonce"))
        self._same_product(data)
        return License(data, from_cache=True)

    def _same_product(self, data: Mapping[str, Any]) -> None:
        details = data.get("product_details")
        if isinstance(details, Mapping) and details.get("short_code") not in (None, self.product):
            raise WrongDevice(f"a license of product {details.get('short_code')!r}, not {self.product!r}")

    def _offline(self, unreachable: ServerUnreachable) -> License:
        """The cached license while its lease (or file) holds; else LeaseExpired."""
        now = self._check_clock()
        cached = self._cached()
        if cached is None:
            raise unreachable
        # The answer's own signed time bounds the clock too: with the trusted-time file
        # removed, a clock set back to before a saved answer was given is still caught.
        signed_at = parse_time(cached.data.get("issued_at")) or cached.server_time
        if signed_at is not None and now < signed_at.timestamp() - self.clock_tolerance:
            raise ClockTampered(f"the system clock is earlier than the cached answer's time ({signed_at})")
        ends = cached.expires_at
        if ends is None or now >= ends.timestamp():
            raise LeaseExpired(f"the server is unreachable and the lease ended at {ends}") from unreachable
        return cached

    def _file_license(self, text: str, *, check_expiry: bool = True, from_cache: bool = False) -> License:
        now = self._check_clock()
        data = read_license_file(text, self.public_key)
        self._bound(data, None)
        self._same_product(data)
        self._trust(parse_time(data.get("issued_at")))
        now = self._check_clock()  # again: the file's issued_at may be the newest trusted time
        expires = parse_time(data.get("expires_at"))
        if check_expiry and (expires is None or now >= expires.timestamp()):
            raise LeaseExpired(f"the license file ended at {expires}")
        return License(data, from_cache=from_cache)


# Refusals after which the cached license must no longer be used.
_STOPPING = {
    "license_not_enabled",
    "license_not_active",
    "license_revoked",
    "device_not_found",
    "license_not_found",
    "unknown_product",
}


def _retry_after(response: requests.Response, error: RateLimited | None) -> float:
    """Seconds to wait: the Retry-After header (whole seconds), else the signed
    ``retry_after``, else a second. Capped by the caller's ``max_retry_wait``."""
    header = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(header))
    except ValueError:
        return (error.retry_after if error else None) or 1.0
