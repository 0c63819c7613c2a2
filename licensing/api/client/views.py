"""The client API endpoints. Views are thin: they validate input, call a service, and
sign what they answer; every refusal becomes a signed §3 error."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ... import rules, services, snapshots
from ...actors import Actor, client_ip
from ...clientauth import parse_http_date
from ...errors import SERVER_ERROR, DomainError, Refusal
from ...license_body import license_body, trial_body
from ...selectors import client_identity, product_for_client
from ...services import offline
from ...signing import current_signer
from .authentication import authenticate
from .responses import rate_limited, signed_error, signed_json, signed_text
from .serializers import (
    ActivateRequestSerializer,
    BorrowRequestSerializer,
    CheckQuerySerializer,
    ConsumptionRequestSerializer,
    DeactivateRequestSerializer,
    ErrorSerializer,
    FeatureConsumptionRequestSerializer,
    FeatureQuerySerializer,
    FeatureSerializer,
    FloatingReleaseRequestSerializer,
    LicenseBodySerializer,
    TrialKeySerializer,
    TrialQuerySerializer,
    validated,
)
from .throttling import ClientRateThrottle, sent_api_key

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = offline.MAX_REQUEST_BYTES
# The answer to a deactivation, online or offline: plain text, signed like every answer.
DEACTIVATED_BODY = "license_deactivated"
AUTH_HEADERS = [
    OpenApiParameter("Date", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="RFC 7231 date."),
    OpenApiParameter(
        "Authorization",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description='algorithm="hmac-sha256",headers="date",signature="<base64 HMAC>",apiKey="<api key>"',
    ),
]
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 413: ErrorSerializer, 429: ErrorSerializer}
# The groups of the API docs (/api/docs/); each is described in SPECTACULAR_SETTINGS["TAGS"].
LICENSES_TAG = ["Client: licenses"]
FLOATING_TAG = ["Client: floating"]
FEATURES_TAG = ["Client: features and consumption"]
OFFLINE_TAG = ["Client: offline"]
TRIALS_TAG = ["Client: trials"]
DEACTIVATED = OpenApiResponse(OpenApiTypes.STR, description="The text license_deactivated.")


class ClientView(APIView):
    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()  # bodies are read raw: offline requests are signed byte for byte
    renderer_classes = (JSONRenderer,)  # for the schema: answers are signed bytes (dispatch)
    throttle_classes = (ClientRateThrottle,)
    requires_signature = True

    # What an answer may be bound to, and the longest value of each that is echoed.
    BOUND_FIELDS = {"nonce": 128, "hardware_id": 255}

    def dispatch(self, request, *args, **kwargs):
        """DRF's request cycle without its Request wrapper, negotiation and rendering,
        which would cost a check-in a sixth of its time: these views read the Django
        request as it came, authenticate it by its HMAC and sign every answer
        themselves. DRF still describes them in the schema. Permission and throttle
        classes are not run by this: anything of the kind belongs in initial(), which
        runs the throttle first of all."""
        self.args, self.kwargs, self.request = args, kwargs, request
        self.headers = self.default_response_headers
        self._bound: dict[str, str] | None = None
        self._sent: dict | None = None
        try:
            self.initial(request)
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                raise exceptions.MethodNotAllowed(request.method)
            response = handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        for name, value in self.headers.items():
            response[name] = value
        return response

    def initial(self, request, *args, **kwargs):
        # First, before any work on the request's behalf: the throttle counts in worker
        # memory, so a check-in still makes no round trip (throttling.py).
        self.check_throttles(request)
        # The row versions this request needs, read up front and handed down
        # (licensing/snapshots.py).
        self.versions = snapshots.Versions.read(self.remembered_keys(request))
        self.credential = None
        if self.requires_signature:
            self.credential = authenticate(request, versions=self.versions)

    def remembered_keys(self, request) -> list[str]:
        """Row keys of what this worker remembers for this request (no validation:
        anything odd simply matches nothing)."""
        api_key = sent_api_key(request)
        return list(snapshots.credentials.keys_for(api_key)) if api_key else []

    def handle_exception(self, exc):
        return signed_error(self.refusal_for(exc), self.bound())

    def refusal_for(self, exc: Exception) -> Refusal:
        if isinstance(exc, Refusal):
            return exc
        if isinstance(exc, DomainError):  # a refusal a service words for staff: still an answer, signed
            return Refusal(exc.code, exc.message, status=409)
        if isinstance(exc, exceptions.Throttled):
            return rate_limited(exc.wait)
        if isinstance(exc, exceptions.APIException):
            return Refusal(exc.default_code, str(exc.detail), status=exc.status_code)
        if isinstance(exc, SuspiciousOperation):  # Django's own input limits (too many fields, ...)
            return Refusal("bad_request", "The request exceeds the server's limits.", status=400)
        # Anything else is our bug. Clients verify every answer, so even this one is
        # signed; the traceback goes to the log, not to the client.
        logger.exception("client API request failed")
        return Refusal("server_error", SERVER_ERROR, status=500)

    def bound(self) -> dict[str, str]:
        """What this request's answer is bound to: the `nonce` and `hardware_id` it sent,
        if it sent them as plain text of a sane length (anything else is not echoed)."""
        if self._bound is None:
            try:
                sent = self.sent_fields()
            except Exception:  # a request we cannot read says nothing to bind to
                sent = {}
            self._bound = {
                name: value
                for name, longest in self.BOUND_FIELDS.items()
                if isinstance(value := sent.get(name), str) and 0 < len(value) <= longest and value.isprintable()
            }
        return self._bound

    def sent_fields(self) -> dict:
        """The request's fields as sent, read once."""
        if self._sent is None:
            self._sent = self.read_fields()
        return self._sent

    def read_fields(self) -> dict:
        """The request's fields, read leniently (to bind an answer, errors included): the
        query string's, and a JSON body's that can be read."""
        fields = query_fields(self.request)
        if self.request.method == "POST" and self.request.content_type == "application/json":
            with contextlib.suppress(Refusal):  # too large, or not a JSON object
                fields.update(self.json_body())
        return fields

    def actor(self) -> Actor:
        return Actor.client(self.credential, client_ip(self.request))

    def signed_at(self) -> dt.datetime | None:
        """When the client signed this request: its `Date`, which authentication checked."""
        return parse_http_date(self.request.META.get("HTTP_DATE", ""))

    def raw_body(self) -> bytes:
        length = self.request.META.get("CONTENT_LENGTH") or "0"
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if not (length.isascii() and length.isdigit()) or len(length) > 12 or int(length) > MAX_BODY_BYTES:
            raise Refusal("request_too_large", f"Request bodies are limited to {MAX_BODY_BYTES} bytes.", status=413)
        return self.request.body

    def json_body(self) -> dict:
        raw = self.raw_body()
        try:
            data = json.loads(raw or b"{}")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Refusal("invalid_json", "The body is not JSON.") from None
        if not isinstance(data, dict):
            raise Refusal("invalid_json", "The body must be a JSON object.")
        return data


def query_fields(request) -> dict[str, str]:
    """The query string's fields, the last of a repeated one winning: what
    `request.GET.dict()` gives, read as Django reads it (the same decoding, the same limit
    on the number of fields) without building a QueryDict, on every check."""
    raw = request.META.get("QUERY_STRING", "").encode("iso-8859-1")
    try:
        query = raw.decode(settings.DEFAULT_CHARSET)
    except UnicodeDecodeError:
        query = raw.decode("iso-8859-1")
    try:
        return dict(
            parse_qsl(
                query,
                keep_blank_values=True,
                encoding=settings.DEFAULT_CHARSET,
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        )
    except ValueError:  # more fields than allowed
        raise TooManyFieldsSent("The query string has more fields than allowed.") from None


class ActivateLicense(ClientView):
    http_method_names = ["post"]

    @extend_schema(
        operation_id="activate_license",
        tags=LICENSES_TAG,
        description="Activate this device (`hardware_id`, stable for the machine) with a license key, or with a "
        "license user's username and password for a user-based product; it then holds a seat (floating: it is "
        "registered, and takes a slot). Activating an activated device again is harmless: the same license, no "
        "new seat. Answers with the license body. Refusals: unknown_product, license_not_found, "
        "invalid_credentials, too_many_attempts, license_activated_max_times, floating_not_available, "
        "license_not_enabled, license_not_active, license_revoked.",
        request=ActivateRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: LicenseBodySerializer, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        data = validated(ActivateRequestSerializer, self.json_body())
        facts = {k: data[k] for k in services.DEVICE_FACTS if k in data}
        license = services.license_activate(
            **client_identity(data),
            password=data.get("password"),
            facts=facts,
            actor=self.actor(),
            signed=services.Signed(at=self.signed_at()),
        )
        return signed_json(license_body(license, now=timezone.now(), nonce=data.get("nonce")))


class CheckLicense(ClientView):
    http_method_names = ["get"]

    def remembered_keys(self, request) -> list[str]:
        query = self.sent_fields()
        identity = services.check_identity(
            query.get("product", ""), query.get("hardware_id", ""), query.get("license_key"), query.get("username")
        )
        return [*super().remembered_keys(request), *snapshots.licenses.keys_for(identity)]

    def read_fields(self) -> dict:
        # The key may come in a `License-Key` header instead of the query string, which
        # proxies and servers write to their access logs.
        fields = query_fields(self.request)
        header = self.request.META.get("HTTP_LICENSE_KEY")
        if header:
            fields["license_key"] = header
        return fields

    @extend_schema(
        operation_id="check_license",
        tags=LICENSES_TAG,
        description="Check the device's license on start and every refresh_interval seconds: a 200 renews the "
        "lease until lease_expires_at (floating: the slot), and answers with the license body. A refusal says "
        "why the license stopped working (license_not_enabled, license_not_active or license_revoked, with the "
        "reason; device_not_found when the device holds no license): stop the licensed features and tell the user.",
        parameters=[
            *AUTH_HEADERS,
            OpenApiParameter(
                "License-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The license key, instead of the license_key query parameter: query strings end up "
                "in access logs, headers usually do not.",
            ),
            CheckQuerySerializer,
        ],
        responses={200: LicenseBodySerializer, **ERRORS},
    )
    def get(self, request) -> HttpResponse:
        data = validated(CheckQuerySerializer, self.sent_fields())
        license = services.license_check(**client_identity(data), versions=self.versions, actor=self.actor())
        # license_check answers only with a license active at its check-in time.
        body = license_body(license, now=license.last_check_in_at, nonce=data.get("nonce"), verdict=rules.ACTIVE)
        return signed_json(body)


class DeactivateLicense(ClientView):
    http_method_names = ["post"]

    @extend_schema(
        operation_id="deactivate_license",
        tags=LICENSES_TAG,
        description="Give the device's seat back at once (the user moves the license to another machine). "
        "Answered with the text license_deactivated. Refused for a suspended or revoked license "
        "(license_not_enabled, license_revoked) and for a device holding none (device_not_found).",
        request=DeactivateRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: DEACTIVATED, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        data = validated(DeactivateRequestSerializer, self.json_body())
        license_id = str(data["license_id"]) if data.get("license_id") else None
        services.license_release(
            **client_identity(data),
            license_id=license_id,
            actor=self.actor(),
            signed=services.Signed(at=self.signed_at()),
        )
        return signed_text(DEACTIVATED_BODY)


# The answer to a floating release: plain text, signed like every answer.
FLOATING_RELEASED_BODY = "floating_released"


class TrialKey(ClientView):
    http_method_names = ["get"]

    @extend_schema(
        operation_id="trial_key",
        tags=TRIALS_TAG,
        description="A trial key of the product for this machine: the one it was given before, if any (also "
        "after it ended, so reinstalling earns no new trial), or the one given to this email address, or a "
        "new one. Activate with it as with any key. Refusals: unknown_product, trial_not_allowed (the product "
        "offers none, or reason converted: this machine's trial became a paid license), invalid_parameters "
        "(a malformed email), rate_limited (429: too many new trials from this address).",
        parameters=[*AUTH_HEADERS, TrialQuerySerializer],
        responses={200: TrialKeySerializer, **ERRORS},
    )
    def get(self, request) -> HttpResponse:
        data = validated(TrialQuerySerializer, self.sent_fields())
        product = product_for_client(data["product"])
        trial = services.trial_start(
            product=product, hardware_id=data["hardware_id"], email=data["email"], actor=self.actor()
        )
        key = services.trial_key(trial)
        now = timezone.now()
        return signed_json(
            trial_body(trial, key=key, now=now, hardware_id=data["hardware_id"], nonce=data.get("nonce"))
        )


class FloatingRelease(ClientView):
    http_method_names = ["post"]

    @extend_schema(
        operation_id="floating_release",
        tags=FLOATING_TAG,
        description="Give this device's floating slot back at once (ending any borrow); the device stays "
        "activated. Releasing a slot the device does not hold is not an error.",
        request=FloatingReleaseRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="The text floating_released."), **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        data = validated(FloatingReleaseRequestSerializer, self.json_body())
        license_id = str(data["license_id"]) if data.get("license_id") else None
        services.client_floating_release(**client_identity(data), license_id=license_id, actor=self.actor())
        return signed_text(FLOATING_RELEASED_BODY)


class FloatingBorrow(ClientView):
    http_method_names = ["post"]

    @extend_schema(
        operation_id="floating_borrow",
        tags=FLOATING_TAG,
        description="Hold this device's floating slot until borrowed_until, to work offline: no other device "
        "takes it before then. Refusals: borrowing_not_allowed, borrow_until_not_valid, "
        "floating_not_available, and those of check_license.",
        request=BorrowRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: LicenseBodySerializer, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        data = validated(BorrowRequestSerializer, self.json_body())
        license = services.license_borrow(
            **client_identity(data), borrowed_until=data.get("borrowed_until"), actor=self.actor()
        )
        return signed_json(license_body(license, now=timezone.now(), nonce=data.get("nonce")))


class CheckLicenseFeature(ClientView):
    http_method_names = ["get"]
    read_fields = CheckLicense.read_fields  # the key may come in a License-Key header

    @extend_schema(
        operation_id="check_license_feature",
        tags=FEATURES_TAG,
        description="One feature of the device's license, in full, with what it consumed this period. "
        "Refusals: feature_not_found (not granted), feature_expired, and those of check_license. "
        "It does not check the device in.",
        parameters=[*AUTH_HEADERS, FeatureQuerySerializer],
        responses={200: FeatureSerializer, **ERRORS},
    )
    def get(self, request) -> HttpResponse:
        data = validated(FeatureQuerySerializer, self.sent_fields())
        answer = services.license_feature(**client_identity(data), feature=data["feature"])
        return signed_json(_with_nonce(answer, data))


class AddConsumption(ClientView):
    http_method_names = ["post"]
    serializer_class = ConsumptionRequestSerializer

    @extend_schema(
        operation_id="add_consumption",
        tags=FEATURES_TAG,
        description="Count consumptions on a metered license, atomically; answers with the license body and "
        "its new total. Past the limit (overages included) consumption_limit_reached, and nothing is counted. "
        "Other refusals: consumption_not_metered, negative_consumption_not_allowed, consumption_below_zero, and "
        "those of check_license. A request_id sent again is answered as the first time and counts nothing.",
        request=ConsumptionRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: LicenseBodySerializer, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        data = validated(self.serializer_class, self.json_body())
        answer = services.license_consume(
            **client_identity(data),
            amount=data["consumptions"],
            feature=data.get("feature"),
            request_id=data.get("request_id", ""),
            actor=self.actor(),
            answer=self.answer,
        )
        return signed_json(_with_nonce(answer, data))

    def answer(self, counted: services.Counted) -> dict:
        return license_body(counted.license, now=counted.now, verdict=rules.ACTIVE)


class AddFeatureConsumption(AddConsumption):
    serializer_class = FeatureConsumptionRequestSerializer

    @extend_schema(
        operation_id="add_feature_consumption",
        tags=FEATURES_TAG,
        description="Count consumptions of a consumption feature, atomically; answers with the feature and its "
        "new total. Refusals: feature_not_found, feature_expired, feature_not_consumption, "
        "consumption_limit_reached, negative_consumption_not_allowed, consumption_below_zero, and those of "
        "check_license. A request_id sent again is answered as the first time and counts nothing.",
        request=FeatureConsumptionRequestSerializer,
        parameters=AUTH_HEADERS,
        responses={200: FeatureSerializer, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        return super().post(request)

    def answer(self, counted: services.Counted) -> dict:
        terms = counted.license.entitlement.feature_grant_terms(counted.meter.feature)
        return services.feature_answer(counted.license, terms, counted.used, counted.now)


def _with_nonce(answer: dict, data: dict) -> dict:
    """The answer bound to this request's nonce and request_id (a repeated request_id's
    stored answer included: it is the first answer's content, sent to this request). The
    request_id tells a count's answer from a check's: the request's own signature covers
    only its date, so a client verifies that what answered is what it asked for."""
    bound = {name: data[name] for name in ("nonce", "request_id") if data.get(name)}
    return {**answer, **bound} if bound else answer


OFFLINE_REQUEST = {
    "text/plain": OpenApiTypes.STR,
    "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
}


class OfflineView(ClientView):
    http_method_names = ["post"]
    kind = ""

    def post(self, request) -> HttpResponse:
        fields = offline.decode_request(self.offline_bytes())
        outcome = offline.answer(fields, expected=self.kind, ip=client_ip(request))
        # Rendered the same way every time: a repeated request_id gets the same bytes.
        if outcome.refusal is not None:
            return signed_error(outcome.refusal, self.bound())
        return signed_text(outcome.license_file or DEACTIVATED_BODY)

    def read_fields(self) -> dict:
        # An offline request names its device inside the file; it carries no nonce.
        return {"hardware_id": offline.peek(self.offline_bytes()).get("hardware_id")}

    def offline_bytes(self) -> bytes:
        request = self.request
        if not request.content_type.startswith("multipart/form-data"):
            return self.raw_body()
        self.raw_body()  # size check before Django parses the parts
        try:
            upload = request.FILES.get("file")
        except (MultiPartParserError, SuspiciousOperation):
            # SuspiciousOperation: Django's own limits (too many parts or fields).
            raise Refusal("missing_content", "The multipart body could not be read.") from None
        if upload is None:
            raise Refusal("missing_content", "The multipart body has no part named file.")
        return upload.read(MAX_BODY_BYTES + 1)


class ActivateOffline(OfflineView):
    kind = offline.ACTIVATION

    @extend_schema(
        operation_id="activate_offline",
        tags=OFFLINE_TAG,
        description="Activate a machine that cannot reach the server, from the request file its application "
        "saved (the body, or the file part of a multipart form): answered with a signed license file that works "
        "offline until its expires_at. The same request file always gets the same answer. Refusals: those of the "
        "file (missing_content, invalid_base64, invalid_json, missing_parameters, invalid_parameters, "
        "invalid_api_key, signature_mismatch, date_header_diff) and those of activate_license.",
        request=OFFLINE_REQUEST,
        parameters=AUTH_HEADERS,
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="The signed license file."), **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        return super().post(request)


class DeactivateOffline(OfflineView):
    kind = offline.DEACTIVATION

    @extend_schema(
        operation_id="deactivate_offline",
        tags=OFFLINE_TAG,
        description="Deactivate an offline machine from its deactivation request file, freeing its seat: "
        "answered with the text license_deactivated. Refusals as for activate_offline.",
        request=OFFLINE_REQUEST,
        parameters=AUTH_HEADERS,
        responses={200: DEACTIVATED, **ERRORS},
    )
    def post(self, request) -> HttpResponse:
        return super().post(request)


class PublicKey(ClientView):
    http_method_names = ["get"]
    requires_signature = False

    @extend_schema(
        operation_id="public_key",
        tags=LICENSES_TAG,
        description="The server's Ed25519 public key (PEM), which signs every answer of this API and every "
        "license file. Ship it with the application rather than fetching it at run time. Needs no signature.",
        responses={
            200: OpenApiResponse(OpenApiTypes.STR, description="PEM of the Ed25519 public key."),
            429: ErrorSerializer,
        },
    )
    def get(self, request) -> HttpResponse:
        return signed_text(current_signer().public_key_pem)


class NotFound(ClientView):
    """Unknown paths under /api/v4/ answer like every other client error: signed JSON."""

    requires_signature = False
    schema = None  # not part of the API

    # What an answer may be bound to, and the longest value of each that is echoed.
    BOUND_FIELDS = {"nonce": 128, "hardware_id": 255}

    def dispatch(self, request, *args, **kwargs):
        return signed_error(Refusal("not_found", "No such endpoint.", status=404))
