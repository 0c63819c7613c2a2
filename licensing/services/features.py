"""Product features and the grants of them entitlements hold.

A grant changes what clients of its entitlement are told, so every change of one is an
`entitlement.updated`: under the entitlement's lock, the entitlement's `feature_terms`
(what a client check reads with the entitlement, and remembers under its version) are
rewritten from its grants, and the change is recorded on the entitlement with its
features before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from ..actors import Actor
from ..errors import InvalidEdit
from ..models import Entitlement, EntitlementFeature, ProductFeature
from ..models.features import GRANT_FIELDS
from .edits import check_and_save, create_record, update_record
from .recording import lock_row, record_change


def product_feature_create(*, product_feature: ProductFeature, actor: Actor) -> ProductFeature:
    return create_record(product_feature, actor=actor)


def product_feature_update(*, product_feature: ProductFeature, data: Mapping[str, Any], actor: Actor) -> ProductFeature:
    """The product is fixed. A new code, name or type reaches every entitlement that
    grants the feature (their clients see it at their next check)."""
    return update_record(
        product_feature,
        data=data,
        actor=actor,
        fixed=("product",),
        check=_type_fits_grants,
        then=lambda feature, before: _refresh_grantees(feature, actor),
    )


def _type_fits_grants(feature: ProductFeature, links) -> None:
    """A feature's type is fixed once granted: a consumption feature made an activation
    one would leave its grants' counters without a meaning, and the other way round
    grants that never set a limit would count without one."""
    before = ProductFeature.objects.values_list("feature_type", flat=True).get(pk=feature.pk)
    if before != feature.feature_type and EntitlementFeature.objects.filter(feature=feature).exists():
        raise InvalidEdit({"feature_type": ["Granted features keep their type; declare a new feature instead."]})


def _refresh_grantees(feature: ProductFeature, actor: Actor) -> None:
    ids = EntitlementFeature.objects.filter(feature=feature).values_list("entitlement_id", flat=True)
    for entitlement_id in sorted(set(ids)):  # locked in id order, as every change of several does
        _rewrite_terms(lock_row(Entitlement, entitlement_id), actor=actor, reason=f"feature {feature.code} changed")


def entitlement_feature_grant(*, entitlement_feature: EntitlementFeature, actor: Actor) -> EntitlementFeature:
    """Grant a feature of the entitlement's product to it (once per feature)."""
    with transaction.atomic():
        entitlement = lock_row(Entitlement, entitlement_feature.entitlement_id)
        entitlement_feature.entitlement = entitlement
        check_and_save(entitlement_feature, {}, None)
        _rewrite_terms(entitlement, actor=actor)
    return entitlement_feature


def entitlement_feature_update(
    *, entitlement_feature: EntitlementFeature, data: Mapping[str, Any], actor: Actor
) -> EntitlementFeature:
    """Change a grant's value, expiry or consumption terms. The feature itself is fixed:
    granting another is a new grant."""
    data = dict(data)
    moved = data.pop("entitlement", None)
    unknown = set(data) - set(GRANT_FIELDS)
    if unknown:
        raise ValueError(f"A grant has no editable fields {sorted(unknown)}.")
    with transaction.atomic():
        entitlement = lock_row(Entitlement, entitlement_feature.entitlement_id)
        grant = EntitlementFeature.objects.select_related("feature").get(pk=entitlement_feature.pk)
        if moved is not None and moved.pk != entitlement.pk:
            raise InvalidEdit({"entitlement": ["The entitlement of a grant is fixed; grant the feature to the other."]})
        if "feature" in data and data["feature"] != grant.feature:
            raise InvalidEdit({"feature": ["The feature of a grant is fixed; grant the other feature instead."]})
        for name, value in data.items():
            setattr(grant, name, value)
        grant.entitlement = entitlement
        check_and_save(grant, {}, None)
        _rewrite_terms(entitlement, actor=actor)
    return grant


def entitlement_feature_revoke(*, entitlement_feature: EntitlementFeature, actor: Actor, reason: str = "") -> None:
    """Take a feature away from the entitlement; its usage history stays."""
    with transaction.atomic():
        entitlement = lock_row(Entitlement, entitlement_feature.entitlement_id)
        EntitlementFeature.objects.filter(pk=entitlement_feature.pk).delete()
        _rewrite_terms(entitlement, actor=actor, reason=reason)


def _rewrite_terms(entitlement: Entitlement, *, actor: Actor, reason: str = "") -> None:
    """The entitlement's `feature_terms` from its grants, saved and recorded as an
    `entitlement.updated` if they changed. The caller holds the entitlement's lock."""
    grants = EntitlementFeature.objects.filter(entitlement=entitlement).select_related("feature")
    terms = sorted((grant.terms() for grant in grants), key=lambda t: t["code"])
    before = entitlement.feature_terms
    if terms == before:
        return
    entitlement.feature_terms = terms
    entitlement.save(update_fields=["feature_terms", "updated_at"])
    record_change(
        actor=actor,
        action="entitlement.updated",
        target=entitlement,
        reason=reason,
        before={"features": before},
        after={"features": terms},
    )
