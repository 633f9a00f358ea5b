from dataclasses import replace

import pytest

from nbexec.core.errors import ValidationError
from nbexec.risk.limits import RiskLimits


def test_defaults_switch_market_safety_on_and_account_limits_off():
    limits = RiskLimits()
    assert limits.price_band_bps and limits.max_slippage_bps and limits.max_tick_age_s
    assert limits.max_spread_bps and limits.duplicate_window_s
    assert (limits.max_quantity, limits.max_order_value, limits.max_position, limits.daily_loss_limit) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("max_quantity", 0),
        ("max_quantity", 2.5),
        ("max_quantity", True),
        ("max_position", -1),
        ("max_order_value", 0),
        ("max_order_value", "lots"),
        ("max_order_value", float("nan")),
        ("price_band_bps", -5),
        ("max_tick_age_s", float("inf")),
        ("max_spread_bps", 0),
        ("daily_loss_limit", -100.0),
        ("duplicate_window_s", 0),
        ("max_slippage_bps", -1),
        ("max_slippage_bps", 10_000),
    ],
)
def test_bad_limit_names_the_field(field, value):
    with pytest.raises(ValidationError) as info:
        RiskLimits(**{field: value})
    assert info.value.field == field
    assert field in str(info.value)


def test_slippage_wider_than_the_price_band_is_refused_up_front():
    with pytest.raises(ValidationError) as info:
        RiskLimits(price_band_bps=20, max_slippage_bps=30)
    assert info.value.field == "max_slippage_bps"
    assert "price_band_bps" in info.value.reason


def test_none_switches_any_limit_off():
    RiskLimits(
        price_band_bps=None, max_slippage_bps=None, max_tick_age_s=None, max_spread_bps=None, duplicate_window_s=None
    )


def test_replace_validates_again():
    with pytest.raises(ValidationError):
        replace(RiskLimits(), max_slippage_bps=-3)


def test_from_config_reads_a_table():
    limits = RiskLimits.from_config({"max_quantity": 500, "daily_loss_limit": 25_000.0})
    assert (limits.max_quantity, limits.daily_loss_limit) == (500, 25_000.0)


def test_from_config_names_an_unknown_key():
    with pytest.raises(ValidationError) as info:
        RiskLimits.from_config({"max_qty": 500})
    assert info.value.field == "max_qty"


def test_windows_convert_to_nanoseconds():
    limits = RiskLimits(max_tick_age_s=1.5, duplicate_window_s=0.25)
    assert (limits.max_tick_age_ns, limits.duplicate_window_ns) == (1_500_000_000, 250_000_000)
    changed = replace(limits, max_tick_age_s=None, duplicate_window_s=2)
    assert (changed.max_tick_age_ns, changed.duplicate_window_ns) == (None, 2_000_000_000)


def test_from_config_refuses_the_derived_windows():
    """The ns windows follow the seconds: a config setting one is named, not taken."""
    with pytest.raises(ValidationError) as info:
        RiskLimits.from_config({"max_tick_age_ns": 5})
    assert info.value.field == "max_tick_age_ns"
