"""Creating records and editing their plain fields (never their status: switches have
their own services). One service per resource and verb; each checks the rules that span
fields and rows under the row's lock, because a form's or a serializer's validation runs
before the lock and can be overtaken by a concurrent change.

Models say what is valid for one row (`Model.clean()`); these services enforce it, with
what only a change can know: which fields are fixed once a record exists, and which
rows a record may link to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from ..actors import Actor
from ..audit import field_values
from ..errors import InvalidEdit
from ..models import (
    ActivationCode,
    Customer,
    Device,
    Entitlement,
    FloatingSlot,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
)
from . import floating
from .passwords import portal_password_set
from .recording import lock_row, record_change
from .switches import LICENSE_USER_REMOVED, switch

M = TypeVar("M", bound=models.Model)
Check = Callable[[M, Mapping[str, list]], None]


# --- The shared steps --------------------------------------------------------------------


def create_record(
    row: M, *, actor: Actor, links: Mapping[str, Iterable[models.Model]] | None = None, check: Check | None = None
) -> M:
    """Save a new row, set its many-to-many `links`, and record `<resource>.created`."""
    links = {name: list(rows) for name, rows in (links or {}).items()}
    with transaction.atomic():
        check_and_save(row, links, check)
        record_change(
            actor=actor,
            action=f"{row.resource_name}.created",
            target=row,
            after={**field_values(row, editable_fields(row)), **_link_ids(row, links)},
        )
    return row


def update_record(
    row: M,
    *,
    data: Mapping[str, Any],
    actor: Actor,
    fixed: Sequence[str] = (),
    check: Check | None = None,
    then: Callable[[M, dict[str, Any]], None] | None = None,
) -> M:
    """Lock the row, refuse changes to `fixed` fields, apply `data` (plain fields and
    many-to-many links by name), check, save, and record `<resource>.updated` with the
    fields before and after. `then` follows the change up in the same transaction, given
    the row and what it was before."""
    model = type(row)
    links = {f.name for f in model._meta.many_to_many}
    unknown = set(data) - set(editable_fields(row)) - links
    if unknown:
        raise ValueError(f"{model.__name__} has no editable fields {sorted(unknown)}.")
    plain = {name: value for name, value in data.items() if name not in links}
    linked = {name: list(rows) for name, rows in data.items() if name in links}
    with transaction.atomic():
        locked = lock_row(model, row.pk)
        _refuse_moves(locked, plain, fixed)
        before = {**field_values(locked, plain), **_link_ids(locked, linked)}
        for name, value in plain.items():
            setattr(locked, name, value)
        check_and_save(locked, linked, check)
        record_change(
            actor=actor,
            action=f"{locked.resource_name}.updated",
            target=locked,
            before=before,
            after={**field_values(locked, plain), **_link_ids(locked, linked)},
        )
        if then is not None:
            then(locked, before)
    return locked


def check_and_save(row: M, links: Mapping[str, list], check: Check | None) -> None:
    """The row's own rules, then the edit's, then the row and its links."""
    _clean(row)
    if check is not None:
        check(row, links)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a refusal
            row.save()
            for name, rows in links.items():
                getattr(row, name).set(rows)
    except IntegrityError:
        # A unique value that another request took after the input was checked (or one a
        # form does not check): refused like any other invalid edit, never a server error.
        raise InvalidEdit(_taken(row)) from None


def _taken(row: models.Model) -> dict[str, list[str]]:
    """Which unique values of `row` are already another row's, as the model words it."""
    try:
        row.validate_unique()
        row.validate_constraints()
    except ValidationError as error:
        return _messages(error)
    return {"__all__": ["Another record was saved with the same values at the same moment; try again."]}


def editable_fields(row: models.Model) -> list[str]:
    """The concrete fields people set; status switches, secrets and stamps are not among them."""
    return [f.name for f in row._meta.concrete_fields if f.editable and not f.primary_key]


def _clean(row: models.Model) -> None:
    """The model's own rules across its fields and rows, as a refused edit."""
    try:
        row.clean()
    except ValidationError as error:
        raise InvalidEdit(_messages(error)) from None


def _messages(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {name: [m for e in errors for m in e.messages] for name, errors in error.error_dict.items()}
    return {"__all__": error.messages}


def _refuse_moves(locked: models.Model, plain: Mapping[str, Any], fixed: Sequence[str]) -> None:
    moved = {}
    for name in fixed:
        if name in plain and _stored(locked, name) != _given(plain[name]):
            records = str(locked._meta.verbose_name_plural).capitalize()
            field = locked._meta.get_field(name).verbose_name
            moved[name] = [f"{records} keep the {field} they were created with; it cannot change."]
    if moved:
        raise InvalidEdit(moved)


def _stored(row: models.Model, name: str) -> Any:
    return getattr(row, row._meta.get_field(name).attname)


def _given(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def _link_ids(row: models.Model, links: Mapping[str, object]) -> dict[str, list[str]]:
    return {name: sorted(str(pk) for pk in getattr(row, name).values_list("pk", flat=True)) for name in links}


# --- The catalog and customers -----------------------------------------------------------


def product_create(*, product: Product, actor: Actor) -> Product:
    return create_record(product, actor=actor)


def product_update(*, product: Product, data: Mapping[str, Any], actor: Actor) -> Product:
    """How a product is activated (keys or users) is fixed once it has entitlements: their
    codes or license users would no longer fit it. A trial grants only the product's own
    features."""
    return update_record(product, data=data, actor=actor, check=_product_fits)


def _product_fits(product: Product, links: Mapping[str, list]) -> None:
    _method_fits_entitlements(product, links)
    others = [feature.code for feature in links.get("trial_features", ()) if feature.product_id != product.pk]
    if others:
        raise InvalidEdit({"trial_features": [f"Not features of {product}: {', '.join(sorted(others))}."]})


def _method_fits_entitlements(product: Product, links: Mapping[str, list]) -> None:
    stored = Product.objects.filter(pk=product.pk).values_list("authorization_method", flat=True).first()
    if stored != product.authorization_method and product.entitlements.exists():
        raise InvalidEdit(
            {
                "authorization_method": [
                    "This product has entitlements, activated with its current method; make a new product instead."
                ]
            }
        )


def customer_create(*, customer: Customer, actor: Actor) -> Customer:
    return create_record(customer, actor=actor)


def customer_update(*, customer: Customer, data: Mapping[str, Any], actor: Actor) -> Customer:
    return update_record(customer, data=data, actor=actor)


def transaction_create(*, license_transaction: LicenseTransaction, actor: Actor) -> LicenseTransaction:
    return create_record(license_transaction, actor=actor)


def transaction_update(
    *, license_transaction: LicenseTransaction, data: Mapping[str, Any], actor: Actor
) -> LicenseTransaction:
    """An order stays the order of the customer it was placed by."""
    return update_record(license_transaction, data=data, actor=actor, fixed=("customer",))


# --- Entitlements and their codes --------------------------------------------------------


def entitlement_create(*, entitlement: Entitlement, actor: Actor) -> Entitlement:
    return create_record(entitlement, actor=actor)


def entitlement_update(*, entitlement: Entitlement, data: Mapping[str, Any], actor: Actor) -> Entitlement:
    """Customer and product are fixed: moving them would carry codes and licenses along
    to another customer or product. Seats cannot drop below the licenses holding them
    (checked under the entitlement's lock, which every change of its seat count holds);
    a floating entitlement's cannot drop below the devices running it now, and one made
    node-locked frees its slots."""
    return update_record(
        entitlement,
        data=data,
        actor=actor,
        fixed=("customer", "product"),
        check=_slots_fit,
        then=lambda locked, before: _slots_follow_model(locked, before, actor),
    )


def _slots_fit(entitlement: Entitlement, links: Mapping[str, list]) -> None:
    if not entitlement.is_floating:
        return
    running = FloatingSlot.objects.live().filter(entitlement=entitlement).count()
    if entitlement.seats < running:
        raise InvalidEdit(
            {
                "seats": [
                    f"{running} devices are running now; release their slots before lowering seats to "
                    f"{entitlement.seats}."
                ]
            }
        )


def _slots_follow_model(entitlement: Entitlement, before: dict[str, Any], actor: Actor) -> None:
    if before.get("license_model") == Entitlement.LicenseModel.FLOATING and not entitlement.is_floating:
        slots = FloatingSlot.objects.filter(entitlement=entitlement)
        floating.slots_free(slots, actor=actor, reason="made node-locked")


def activation_code_create(*, activation_code: ActivationCode, actor: Actor) -> ActivationCode:
    """A code activates a product that is activated by key: one of a product activated
    by license users would be a secret that opens nothing."""
    return create_record(activation_code, actor=actor, check=_product_takes_keys)


def _product_takes_keys(code: ActivationCode, links: Mapping[str, list]) -> None:
    method = Entitlement.objects.filter(pk=code.entitlement_id).values_list("product__authorization_method", flat=True)
    if method.first() == Product.AuthorizationMethod.USER:
        raise InvalidEdit(
            {"entitlement": ["Its product is activated by license users, with their passwords: codes open nothing."]}
        )


def activation_code_update(*, activation_code: ActivationCode, data: Mapping[str, Any], actor: Actor) -> ActivationCode:
    """A code stays with its entitlement, and its cap cannot drop below the devices
    active with it (checked under the code's lock, which every change of its count takes)."""
    return update_record(activation_code, data=data, actor=actor, fixed=("entitlement",))


# --- License users and devices ------------------------------------------------------------


def license_user_create(
    *, license_user: LicenseUser, password: str, entitlements: Iterable[Entitlement] = (), actor: Actor
) -> LicenseUser:
    """A license user with the password their application activates with, and the
    entitlements they may activate."""
    license_user.set_password(password)
    return create_record(
        license_user, actor=actor, links={"entitlements": entitlements}, check=_license_user_entitlements
    )


def license_user_update(*, license_user: LicenseUser, data: Mapping[str, Any], actor: Actor) -> LicenseUser:
    """`data` may hold a new `password`, set as every password is (passwords.py).
    Taking an entitlement away from the user releases their licenses on it, in the same
    transaction: their devices stop at the next check."""
    data = dict(data)
    password = data.pop("password", None)

    def release_removed(user: LicenseUser, before: dict[str, Any]) -> None:
        kept = {str(pk) for pk in user.entitlements.values_list("pk", flat=True)}
        _release_licenses(user, removed=set(before.get("entitlements", ())) - kept, actor=actor)

    with transaction.atomic():
        if data:
            license_user = update_record(
                license_user,
                data=data,
                actor=actor,
                fixed=("customer",),
                check=_license_user_entitlements,
                then=release_removed,
            )
        if password:
            license_user = portal_password_set(account=license_user, password=password, actor=actor)
    return license_user


def _release_licenses(user: LicenseUser, *, removed: set[str], actor: Actor) -> None:
    if not removed:
        return
    # The entitlements are locked first, in the order activations lock them: an
    # activation of this user racing the removal either committed before (its license
    # is released below) or waits, and then finds the user no longer linked.
    list(
        Entitlement.objects.select_for_update(no_key=True)
        .filter(pk__in=removed)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    held = License.objects.filter(license_user=user, entitlement_id__in=removed).holding_seat().order_by("pk")
    for license in held:
        switch(license, LICENSE_USER_REMOVED, actor=actor, reason="The license user was removed from the entitlement.")


def _license_user_entitlements(user: LicenseUser, links: Mapping[str, list]) -> None:
    if "entitlements" in links:
        problems = LicenseUser.entitlement_problems(user.customer, links["entitlements"])
        if problems:
            raise InvalidEdit({"entitlements": problems})


def device_create(*, device: Device, actor: Actor) -> Device:
    return create_record(device, actor=actor)


def device_update(*, device: Device, data: Mapping[str, Any], actor: Actor) -> Device:
    """A device record is its customer's own: it stays with that customer."""
    return update_record(device, data=data, actor=actor, fixed=("customer",))
