"""The check's query is validated on a short path when it is plainly valid; that path
must never accept what the serializer refuses, nor answer anything the serializer
would not."""

import itertools

import pytest
from rest_framework import serializers

from licensing.api.client.serializers import CheckQuerySerializer, _plain_text_fields, _plainly_valid, validated
from licensing.errors import Refusal

VALUES = [
    None,
    "",
    "studio",
    " studio",
    "studio ",
    "a b",
    "\t",
    "x\x00y",
    "\ud800",
    "ünïcødé",
    "k" * 50,
    "k" * 51,
    "k" * 64,
    "k" * 65,
    "k" * 255,
    "k" * 256,
    "line\nbreak",
    7,
    ["list"],
]


def full_path(data: dict):
    """What the serializer alone makes of the input: the data, or its refusal."""
    try:
        return CheckQuerySerializer().run_validation(data)
    except serializers.ValidationError:
        return "refused"


@pytest.mark.parametrize("field", ["product", "hardware_id", "license_key", "username", "nonce"])
def test_the_short_path_agrees_with_the_serializer_on_every_value_of_every_field(field):
    base = {"product": "studio", "hardware_id": "hw-1", "license_key": "ABCD-EFGH"}
    plain = _plain_text_fields(CheckQuerySerializer)
    serializer = CheckQuerySerializer()
    for value in VALUES:
        data = {**base, field: value}
        if value is None:
            del data[field]
        short = _plainly_valid(serializer, plain, data)
        if short is not None:
            assert short == full_path(data), (field, value)


def test_the_short_path_keeps_the_rule_that_a_key_or_a_username_is_needed():
    plain = _plain_text_fields(CheckQuerySerializer)
    for key, username in itertools.product([None, "ABCD"], [None, "ann"]):
        data = {"product": "studio", "hardware_id": "hw-1", "license_key": key, "username": username}
        data = {k: v for k, v in data.items() if v is not None}
        short = _plainly_valid(CheckQuerySerializer(), plain, data)
        assert (short is None) == (key is None and username is None)
        if short is not None:
            assert short == full_path(data)


def test_a_well_formed_query_takes_the_short_path_and_unknown_fields_are_dropped():
    data = {"product": "studio", "hardware_id": "hw-1", "license_key": "ABCD", "extra": "ignored"}
    short = _plainly_valid(CheckQuerySerializer(), _plain_text_fields(CheckQuerySerializer), data)
    assert short == {"product": "studio", "hardware_id": "hw-1", "license_key": "ABCD"} == full_path(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"hardware_id": "hw-1", "license_key": "ABCD"}, "missing_parameters"),
        ({"product": "studio", "hardware_id": "hw-1"}, "missing_parameters"),
        ({"product": "s" * 51, "hardware_id": "hw-1", "license_key": "ABCD"}, "invalid_parameters"),
        ({"product": "studio", "hardware_id": "x\x00", "license_key": "ABCD"}, "invalid_parameters"),
    ],
)
def test_what_the_short_path_leaves_gets_the_serializers_refusal(data, code):
    with pytest.raises(Refusal) as refused:
        validated(CheckQuerySerializer, data)
    assert refused.value.code == code


def test_serializers_with_other_kinds_of_fields_always_take_the_full_path():
    class WithNumber(serializers.Serializer):
        name = serializers.CharField()
        count = serializers.IntegerField()

    class WithFieldValidation(serializers.Serializer):
        name = serializers.CharField()

        def validate_name(self, value):
            return value.upper()

    assert _plain_text_fields(WithNumber) is None
    assert _plain_text_fields(WithFieldValidation) is None
    assert validated(WithFieldValidation, {"name": "ann"}) == {"name": "ANN"}
