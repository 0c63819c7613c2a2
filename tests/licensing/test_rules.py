"""The access rules: each rule, their precedence, and the same answer from Python and SQL."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from licensing import querysets, rules, services
from licensing.models import ActivationCode, Entitlement, License
from licensing.rules import EffectiveStatus, Reason
from tests.factories import EntitlementFactory, LicenseFactory, LicenseTransactionFactory, LicenseUserFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def both_verdicts(license: License) -> tuple[tuple[str, str], tuple[str, str]]:
    """The license's effective (status, reason) from the Python rule function and from
    the queryset annotation; every test checks that they agree."""
    fresh = License.objects.select_related("entitlement__customer", "entitlement__transaction", "activation_code").get(
        pk=license.pk
    )
    verdict = fresh.verdict()
    annotated = License.objects.with_effective_status().get(pk=license.pk)
    return (verdict.status.value, verdict.reason.value if verdict.reason else ""), (
        annotated.effective_status,
        annotated.effective_reason,
    )


def assert_effective(license: License, status: EffectiveStatus, reason: Reason | None) -> None:
    expected = (status.value, reason.value if reason else "")
    python, sql = both_verdicts(license)
    assert python == expected
    assert sql == expected


@pytest.fixture
def license(db):
    transaction = LicenseTransactionFactory()
    return LicenseFactory(
        activation_code__entitlement__customer=transaction.customer,
        activation_code__entitlement__transaction=transaction,
    )


def test_untouched_license_is_active(license):
    assert_effective(license, EffectiveStatus.ACTIVE, None)


def test_disabled_customer_disables_license(license, actor):
    services.customer_disable(customer=license.entitlement.customer, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CUSTOMER_DISABLED)


def test_disabled_entitlement_disables_license(license, actor):
    services.entitlement_disable(entitlement=license.entitlement, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.ENTITLEMENT_DISABLED)


def test_suspended_transaction_suspends_license(license, actor):
    services.transaction_suspend(license_transaction=license.entitlement.transaction, actor=actor)
    assert_effective(license, EffectiveStatus.SUSPENDED, Reason.TRANSACTION_SUSPENDED)


def test_entitlement_before_valid_from_is_not_yet_valid(license):
    Entitlement.objects.filter(pk=license.entitlement_id).update(valid_from=timezone.now() + DAY)
    assert_effective(license, EffectiveStatus.NOT_YET_VALID, Reason.NOT_YET_VALID)


def test_entitlement_after_valid_until_is_expired(license):
    Entitlement.objects.filter(pk=license.entitlement_id).update(
        valid_from=timezone.now() - 10 * DAY, valid_until=timezone.now() - DAY
    )
    assert_effective(license, EffectiveStatus.EXPIRED, Reason.EXPIRED)


def test_perpetual_entitlement_never_expires(license):
    Entitlement.objects.filter(pk=license.entitlement_id).update(valid_until=None)
    assert_effective(license, EffectiveStatus.ACTIVE, None)


def test_disabled_code_disables_license(license, actor):
    services.activation_code_disable(activation_code=license.activation_code, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CODE_DISABLED)


def test_revoked_code_revokes_license(license, actor):
    services.activation_code_revoke(activation_code=license.activation_code, actor=actor)
    assert_effective(license, EffectiveStatus.REVOKED, Reason.CODE_REVOKED)


def test_suspended_license(license, actor):
    services.license_suspend(license=license, actor=actor)
    assert_effective(license, EffectiveStatus.SUSPENDED, Reason.LICENSE_SUSPENDED)


def test_revoked_license(license, actor):
    services.license_revoke(license=license, actor=actor)
    assert_effective(license, EffectiveStatus.REVOKED, Reason.LICENSE_REVOKED)


def test_user_based_license_without_code_follows_the_other_rules(actor):
    user = LicenseUserFactory()
    entitlement = EntitlementFactory(customer=user.customer)
    license = LicenseFactory(activation_code=None, entitlement=entitlement, license_user=user)
    assert_effective(license, EffectiveStatus.ACTIVE, None)
    services.license_suspend(license=license, actor=actor)
    assert_effective(license, EffectiveStatus.SUSPENDED, Reason.LICENSE_SUSPENDED)


def test_first_failing_rule_wins_down_the_whole_chain(license, actor):
    """Flip every switch, then lift them from the top: each time the next rule shows."""
    entitlement = license.entitlement
    services.license_revoke(license=license, actor=actor)
    services.activation_code_disable(activation_code=license.activation_code, actor=actor)
    Entitlement.objects.filter(pk=entitlement.pk).update(
        valid_until=timezone.now() - DAY, valid_from=timezone.now() - 2 * DAY
    )
    services.transaction_suspend(license_transaction=entitlement.transaction, actor=actor)
    services.entitlement_disable(entitlement=entitlement, actor=actor)
    services.customer_disable(customer=entitlement.customer, actor=actor)

    assert_effective(license, EffectiveStatus.DISABLED, Reason.CUSTOMER_DISABLED)
    services.customer_enable(customer=entitlement.customer, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.ENTITLEMENT_DISABLED)
    services.entitlement_enable(entitlement=entitlement, actor=actor)
    assert_effective(license, EffectiveStatus.SUSPENDED, Reason.TRANSACTION_SUSPENDED)
    services.transaction_resume(license_transaction=entitlement.transaction, actor=actor)
    assert_effective(license, EffectiveStatus.EXPIRED, Reason.EXPIRED)
    Entitlement.objects.filter(pk=entitlement.pk).update(valid_until=None)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CODE_DISABLED)
    services.activation_code_enable(activation_code=license.activation_code, actor=actor)
    assert_effective(license, EffectiveStatus.REVOKED, Reason.LICENSE_REVOKED)


def test_code_disabled_outranks_license_suspended(license, actor):
    services.license_suspend(license=license, actor=actor)
    services.activation_code_disable(activation_code=license.activation_code, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CODE_DISABLED)


def test_code_revoked_outranks_license_suspended(license, actor):
    services.license_suspend(license=license, actor=actor)
    services.activation_code_revoke(activation_code=license.activation_code, actor=actor)
    assert_effective(license, EffectiveStatus.REVOKED, Reason.CODE_REVOKED)


def test_deactivated_license_is_not_active(license, actor):
    services.license_deactivate(license=license, actor=actor)
    assert_effective(license, EffectiveStatus.DEACTIVATED, Reason.LICENSE_DEACTIVATED)
    assert not License.objects.effectively(EffectiveStatus.ACTIVE).filter(pk=license.pk).exists()


def test_switches_above_a_deactivated_license_explain_first(license, actor):
    services.license_deactivate(license=license, actor=actor)
    services.customer_disable(customer=license.entitlement.customer, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CUSTOMER_DISABLED)


def test_reenabling_customer_keeps_separately_disabled_entitlement_disabled(license, actor):
    customer = license.entitlement.customer
    other = LicenseFactory(activation_code__entitlement__customer=customer)
    services.entitlement_disable(entitlement=license.entitlement, actor=actor, reason="chargeback")

    services.customer_disable(customer=customer, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.CUSTOMER_DISABLED)
    assert_effective(other, EffectiveStatus.DISABLED, Reason.CUSTOMER_DISABLED)

    services.customer_enable(customer=customer, actor=actor)
    assert_effective(license, EffectiveStatus.DISABLED, Reason.ENTITLEMENT_DISABLED)
    assert_effective(other, EffectiveStatus.ACTIVE, None)


def test_disabling_customer_changes_no_row_below_it(license, actor):
    """Switches are stored where flipped, never copied down: the entitlement, code and
    license rows keep their own status."""
    services.customer_disable(customer=license.entitlement.customer, actor=actor)
    assert Entitlement.objects.get(pk=license.entitlement_id).status == Entitlement.Status.ACTIVE
    assert ActivationCode.objects.get(pk=license.activation_code_id).status == ActivationCode.Status.ACTIVE
    assert License.objects.get(pk=license.pk).status == License.Status.ACTIVE


@pytest.mark.parametrize(
    ("valid_from_offset", "valid_until_offset", "status"),
    [
        (-DAY, DAY, EffectiveStatus.ACTIVE),
        (dt.timedelta(seconds=1), DAY, EffectiveStatus.NOT_YET_VALID),
        (-2 * DAY, -dt.timedelta(seconds=1), EffectiveStatus.EXPIRED),
    ],
)
def test_validity_window_edges_in_entitlement_lists(valid_from_offset, valid_until_offset, status, license):
    now = timezone.now()
    Entitlement.objects.filter(pk=license.entitlement_id).update(
        valid_from=now + valid_from_offset, valid_until=now + valid_until_offset
    )
    annotated = Entitlement.objects.with_effective_status(now).get(pk=license.entitlement_id)
    entitlement = Entitlement.objects.select_related("customer", "transaction").get(pk=license.entitlement_id)
    assert annotated.effective_status == status
    assert entitlement.verdict(now).status == status


@pytest.mark.parametrize("edge", ["valid_from", "valid_until"])
def test_entitlement_is_active_at_the_exact_edges_of_its_window(edge, license):
    """Not yet valid *before* valid_from, expired *after* valid_until; the
    instants themselves are inside the window."""
    frozen = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    window = {"valid_from": frozen - DAY, "valid_until": frozen + DAY} | {edge: frozen}
    Entitlement.objects.filter(pk=license.entitlement_id).update(**window)
    with time_machine.travel(frozen, tick=False):
        assert_effective(license, EffectiveStatus.ACTIVE, None)
    with time_machine.travel(frozen - dt.timedelta(microseconds=1), tick=False):
        python, sql = both_verdicts(license)
        expected = "not_yet_valid" if edge == "valid_from" else "active"
        assert python[0] == sql[0] == expected
    with time_machine.travel(frozen + dt.timedelta(microseconds=1), tick=False):
        python, sql = both_verdicts(license)
        expected = "expired" if edge == "valid_until" else "active"
        assert python[0] == sql[0] == expected


@pytest.mark.parametrize(
    ("past_the_end", "status"),
    [
        (dt.timedelta(hours=1), EffectiveStatus.ACTIVE),
        (3 * DAY, EffectiveStatus.ACTIVE),  # the last instant of the grace
        (3 * DAY + dt.timedelta(microseconds=1), EffectiveStatus.EXPIRED),
    ],
)
def test_a_grace_period_keeps_licenses_working_after_the_end_of_validity(past_the_end, status, license):
    frozen = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    Entitlement.objects.filter(pk=license.entitlement_id).update(
        valid_from=frozen - 30 * DAY, valid_until=frozen - past_the_end, grace_period=3 * DAY
    )
    with time_machine.travel(frozen, tick=False):
        assert_effective(license, status, Reason.EXPIRED if status == EffectiveStatus.EXPIRED else None)
        entitlement = Entitlement.objects.get(pk=license.entitlement_id)
        assert entitlement.in_grace(frozen) is (status == EffectiveStatus.ACTIVE)
        assert entitlement.grace_until == frozen - past_the_end + 3 * DAY


def test_effective_status_filter_matches_rule(license, actor):
    services.customer_disable(customer=license.entitlement.customer, actor=actor)
    disabled = Entitlement.objects.effectively(EffectiveStatus.DISABLED)
    assert list(disabled.values_list("pk", flat=True)) == [license.entitlement_id]
    assert not Entitlement.objects.effectively(EffectiveStatus.ACTIVE).exists()


def test_the_status_and_reason_filters_find_exactly_the_rows_the_rules_decide(actor):
    """Every rule decides some license here, some behind an earlier rule that outranks
    it; filtering by each status and by each reason (through the facts' indexes) finds
    exactly the rows Python's evaluation puts there, for licenses, codes and entitlements."""
    now = timezone.now()
    licenses = [
        LicenseFactory(activation_code__entitlement__transaction=LicenseTransactionFactory()) for _ in range(13)
    ]
    entitlements = [license.entitlement for license in licenses]
    services.customer_disable(customer=entitlements[0].customer, actor=actor)
    services.entitlement_disable(entitlement=entitlements[0], actor=actor)  # outranked by its customer
    services.entitlement_disable(entitlement=entitlements[1], actor=actor)
    services.transaction_suspend(license_transaction=entitlements[2].transaction, actor=actor)
    Entitlement.objects.filter(pk=entitlements[3].pk).update(valid_from=now + DAY, valid_until=now + 2 * DAY)
    Entitlement.objects.filter(pk=entitlements[4].pk).update(valid_from=now - 2 * DAY, valid_until=now - DAY)
    services.activation_code_disable(activation_code=licenses[5].activation_code, actor=actor)
    services.activation_code_revoke(activation_code=licenses[6].activation_code, actor=actor)
    services.license_suspend(license=licenses[6], actor=actor)  # outranked by its code
    services.license_suspend(license=licenses[7], actor=actor)
    services.license_revoke(license=licenses[8], actor=actor)
    services.license_deactivate(license=licenses[9], actor=actor)
    # Ended, and within its grace period (active); ended, and past it (expired).
    Entitlement.objects.filter(pk=entitlements[11].pk).update(
        valid_from=now - 9 * DAY, valid_until=now - DAY, grace_period=2 * DAY
    )
    Entitlement.objects.filter(pk=entitlements[12].pk).update(
        valid_from=now - 9 * DAY, valid_until=now - 3 * DAY, grace_period=2 * DAY
    )

    def code_verdict(code, now):
        return rules.evaluate(code.entitlement.chain(code_status=code.status), now)

    for model, relations, verdict in [
        (License, ["entitlement__customer", "entitlement__transaction", "activation_code"], License.verdict),
        (ActivationCode, ["entitlement__customer", "entitlement__transaction"], code_verdict),
        (Entitlement, ["customer", "transaction"], Entitlement.verdict),
    ]:
        verdicts = {row.pk: verdict(row, now) for row in model.objects.select_related(*relations)}
        for status in EffectiveStatus:
            expected = {pk for pk, verdict in verdicts.items() if verdict.status == status}
            assert set(model.objects.effectively(status, now=now).values_list("pk", flat=True)) == expected
        for reason in Reason:
            expected = {pk for pk, verdict in verdicts.items() if verdict.reason == reason}
            assert set(model.objects.effectively(reason=reason, now=now).values_list("pk", flat=True)) == expected


def test_the_filters_find_the_same_rows_when_the_ids_are_too_many_to_write_out(actor, monkeypatch):
    licenses = [LicenseFactory() for _ in range(3)]
    services.customer_disable(customer=licenses[0].entitlement.customer, actor=actor)
    services.entitlement_disable(entitlement=licenses[1].entitlement, actor=actor)
    written = set(License.objects.effectively(EffectiveStatus.DISABLED).values_list("pk", flat=True))
    monkeypatch.setattr(querysets, "MAX_LITERAL_IDS", 0)
    found = set(License.objects.effectively(EffectiveStatus.DISABLED).values_list("pk", flat=True))
    assert found == written == {licenses[0].pk, licenses[1].pk}
