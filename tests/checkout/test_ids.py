"""One rule for Omise ids, wherever they come from (checkout/ids.py)."""

import pytest

from checkout.ids import PREFIXES, is_omise_id


@pytest.mark.parametrize("prefix", PREFIXES)
def test_well_formed_ids_of_each_kind_pass_in_both_modes(prefix):
    assert is_omise_id(prefix, f"{prefix}_test_5xp6ca4f7pl1gm2h")
    assert is_omise_id(prefix, f"{prefix}_5xp6ca4f7pl1gm2h")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "chrg_test_",
        "chrg_test_12345",
        "chrg_test_" + "a" * 65,
        "CHRG_TEST_5XP6CA4F",
        "chrg_test_5xp6ca4f/capture",
        "../account",
        "chrg_test_5xp6ca4f\n",
        "chrg_test_5xp6ca4f ",
        "tokn_test_5xp6ca4f",
        "chrg_test_５xp6ca4f",
        None,
        123,
        ["chrg_test_5xp6ca4f"],
    ],
)
def test_anything_else_is_no_charge_id(value):
    """Short, long, upper case, path segments, trailing newline, another kind, other scripts'
    digits and other types are all refused."""
    assert not is_omise_id("chrg", value)
