"""Trials: a key a client application asks for itself, and its conversion into a sale.

A machine gets one trial of a product, and so does an email address: asked again, for
either, the same key is answered, also after the trial ended, so reinstalling earns no
second trial. A trial is an ordinary entitlement of a trial customer (a person, by the
address), marked `is_trial`: every switch and rule applies to it as to any other.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import limits, outbox
from ..actors import Actor
from ..errors import InvalidEdit, Refusal, TryLater
from ..models import ActivationCode, Customer, Device, Entitlement, EntitlementFeature, License, Product, Trial
from ..models.base import normalize_address
from .activation import DEVICE_FACTS
from .edits import create_record
from .features import entitlement_feature_grant
from .recording import lock_row, record_change

TRIALS_PER_ADDRESS = limits.Limit(
    "trial", attempts=settings.LICENSING_TRIALS_PER_ADDRESS, window=settings.LICENSING_TRIALS_WINDOW_SECONDS
)

UNSET: Any = object()  # "not given", where None means "no end"


def trial_start(*, product: Product, hardware_id: str, email: str, actor: Actor) -> Trial:
    """The trial of `product` for this machine or address: the one it already has, or a
    new one (entitlement, code, and the trial customer if the address has none yet).
    New trials are limited per client address (`TRIALS_PER_ADDRESS`), so that a script
    cannot mint keys by inventing machines."""
    email = normalize_address(email)
    if not product.trial_allowed:
        raise Refusal("trial_not_allowed", f"Product “{product.code}” offers no trials.")
    existing = _trial_of(product, hardware_id, email)
    if existing is not None:
        return _answered_again(existing)
    wait = TRIALS_PER_ADDRESS.take(_network_of(actor.ip))
    if wait:
        raise TryLater("rate_limited", "Too many trials from this address; try again later.", retry_after=wait)
    try:
        with transaction.atomic():
            return _new_trial(product, hardware_id, email, actor)
    except IntegrityError:
        # The same machine or address asked at the same moment: the other request's
        # trial is the answer (its transaction committed before this one's insert failed).
        existing = _trial_of(product, hardware_id, email)
        if existing is None:
            raise
        return _answered_again(existing)


def _network_of(ip: str | None) -> str:
    """Who the per-address limit counts: an IPv4 address, or an IPv6 address's /64 (one
    site gets a whole /64, and would otherwise get a fresh limit per address)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _trial_of(product: Product, hardware_id: str, email: str) -> Trial | None:
    matches = Trial.objects.filter(Q(hardware_id=hardware_id) | Q(email=email), product=product)
    # The machine's own trial first, where the address has another.
    trials = sorted(matches.select_related("entitlement"), key=lambda trial: trial.hardware_id != hardware_id)
    return trials[0] if trials else None


def _answered_again(trial: Trial) -> Trial:
    if trial.converted_at is not None:
        # The key now belongs to a paying customer: never handed out by machine id.
        raise Refusal("trial_not_allowed", "The trial on this machine was converted to a license.", reason="converted")
    return trial


def _new_trial(product: Product, hardware_id: str, email: str, actor: Actor) -> Trial:
    now = timezone.now()
    # The address's trial customer, if it has one: never a paying customer, whose portal
    # would show the trial and whose sales a conversion in place would be recorded under.
    customer = (
        Customer.objects.filter(kind=Customer.Kind.PERSON, email=email)
        .exclude(entitlements__is_trial=False)
        .order_by("created_at")
        .first()
    ) or create_record(
        Customer(kind=Customer.Kind.PERSON, name=email[: Customer._meta.get_field("name").max_length], email=email),
        actor=actor,
    )
    entitlement = Entitlement(
        customer=customer,
        product=product,
        seats=product.trial_seats,
        valid_from=now,
        valid_until=now + dt.timedelta(days=product.trial_duration),
        is_trial=True,
    )
    create_record(entitlement, actor=actor)
    for feature in product.trial_features.filter(product=product).order_by("code"):
        entitlement_feature_grant(
            entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=feature), actor=actor
        )
    entitlement.refresh_from_db(fields=["feature_terms"])  # the grants rewrote them
    create_record(ActivationCode(entitlement=entitlement), actor=actor)
    trial = Trial.objects.create(
        product=product, entitlement=entitlement, hardware_id=hardware_id, email=email, client_ip=actor.ip
    )
    outbox.emit("trial.started", entitlement, extra={"trial": trial_facts(trial)})
    return trial


def trial_facts(trial: Trial) -> dict[str, Any]:
    """What a webhook tells of the trial an entitlement came from."""
    return {
        "id": str(trial.pk),
        "email": trial.email,
        "hardware_id": trial.hardware_id,
        "started_at": trial.created_at,
        "converted_at": trial.converted_at,
    }


def trial_key(trial: Trial) -> str:
    """The trial's activation code: the first that still activates, else the one it was
    handed out with (activating with it then says why not)."""
    codes = ActivationCode.objects.filter(entitlement_id=trial.entitlement_id).order_by("created_at")
    return (codes.filter(status=ActivationCode.Status.ACTIVE).first() or codes.first()).code


def trial_convert(
    *,
    entitlement: Entitlement,
    actor: Actor,
    customer: Customer | None = None,
    valid_until: dt.datetime | None = UNSET,
    reason: str = "",
) -> Entitlement:
    """Make a trial a paid entitlement, in one step: no longer a trial, optionally of
    another (existing) customer and with a new end (None: none). Its codes and licenses
    stay as they are, so activated devices keep working without activating again; moved
    to another customer, each device is recorded under that customer too (a customer's
    devices are its own)."""
    with transaction.atomic():
        locked = lock_row(Entitlement, entitlement.pk)
        if not locked.is_trial:
            raise InvalidEdit({"__all__": ["This entitlement is not a trial."]})
        before = _conversion_facts(locked)
        if valid_until is not UNSET:
            if valid_until is not None and valid_until <= max(locked.valid_from, timezone.now()):
                raise InvalidEdit({"valid_until": ["Must be in the future and after the start of validity."]})
            locked.valid_until = valid_until
        moved = customer is not None and customer.pk != locked.customer_id
        if moved:
            locked.customer = customer
        locked.is_trial = False
        locked.save(update_fields=["customer", "valid_until", "is_trial", "updated_at"])
        if moved:
            _devices_follow(locked, customer, actor=actor)
        Trial.objects.filter(entitlement=locked).update(converted_at=timezone.now())
        record_change(
            actor=actor,
            action="trial.converted",
            target=locked,
            reason=reason,
            before=before,
            after=_conversion_facts(locked),
        )
    return locked


def _conversion_facts(entitlement: Entitlement) -> dict[str, Any]:
    return {
        "is_trial": entitlement.is_trial,
        "customer": str(entitlement.customer_id),
        "valid_until": entitlement.valid_until.isoformat() if entitlement.valid_until else None,
    }


def _devices_follow(entitlement: Entitlement, customer: Customer, *, actor: Actor) -> None:
    """The entitlement's licenses, each on the new customer's record of its machine
    (made from the trial's, facts and all, where the customer has none)."""
    licenses = License.objects.filter(entitlement=entitlement).select_related("device").order_by("pk")
    for license in licenses:
        old = license.device
        device = Device.objects.filter(customer=customer, hardware_id=old.hardware_id).first()
        if device is None:
            facts = {name: getattr(old, name) for name in DEVICE_FACTS}
            device = create_record(Device(customer=customer, hardware_id=old.hardware_id, **facts), actor=actor)
        license.device = device
        license.save(update_fields=["device", "updated_at"])
        record_change(
            actor=actor,
            action="license.updated",
            target=license,
            before={"device": str(old.pk)},
            after={"device": str(device.pk)},
        )
