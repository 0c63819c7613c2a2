"""Reads shared by the interfaces."""

from licensing import selectors
from licensing.selectors import normalize_code


def test_codes_are_read_as_people_type_them():
    assert normalize_code(" abcd efgh-jkmn pqrs ") == "ABCD-EFGH-JKMN-PQRS"
    assert normalize_code("oil0-OIL0-oil0-OIL0") == "0110-0110-0110-0110"


def test_only_inputs_of_a_sane_length_are_remembered():
    selectors._normalize_code.cache_clear()
    normalize_code("ABCD-EFGH-JKMN-PQRS")
    normalize_code("X" * 100_000)
    assert selectors._normalize_code.cache_info().currsize == 1
