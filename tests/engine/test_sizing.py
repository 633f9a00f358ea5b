from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import Side
from nbexec.engine.sizing import Sized, SizingKind, SizingRule, size_for, target_delta

INFY = Instrument("NSE", "INFY", 1594)
NIFTY_FUT = Instrument("NFO", "NIFTY24DECFUT", 35001, lot_size=50, instrument_type="FUT")


def rule(**config) -> SizingRule:
    return SizingRule.from_config(config)


def test_multiplier_scales_the_signal():
    assert size_for(rule(multiplier=2), 10, INFY) == Sized(20)


def test_fractional_multiplier_is_exact_not_float():
    assert size_for(rule(multiplier=0.29), 100, INFY) == Sized(29)  # 0.29 * 100 is 28.999... in floats


def test_fixed_ignores_the_signal_quantity():
    assert size_for(rule(fixed=25), 1_000, INFY) == Sized(25)


def test_capital_share_buys_what_the_share_affords():
    # 5% of 2,00,000 at 1500.0 is 6.67 units
    assert size_for(rule(capital_share=0.05), 1, INFY, price=1500.0, capital=200_000) == Sized(6)


def test_quantity_is_rounded_down_to_whole_lots():
    assert size_for(rule(multiplier=1.9), 50, NIFTY_FUT) == Sized(50)  # 95 units is 1 lot of 50


def test_zero_lots_is_skipped_with_a_reason():
    sized = size_for(rule(capital_share=0.001), 1, INFY, price=1500.0, capital=10_000)
    assert sized == Sized(0, "capital share 0.1% of 10,000 at 1500.0 buys 0 lots of 1")
    assert sized.skipped


def test_fixed_below_one_lot_is_skipped_with_a_reason():
    assert size_for(rule(fixed=25), 50, NIFTY_FUT) == Sized(0, "fixed 25 buys 0 lots of 50")


def test_small_multiplier_is_skipped_with_a_reason():
    assert size_for(rule(multiplier=0.5), 1, INFY) == Sized(0, "multiplier 0.5 x 1 = 0.5 buys 0 lots of 1")


def test_capital_share_without_capital_is_skipped_not_raised():
    sized = size_for(rule(capital_share=0.05), 1, INFY, price=1500.0, capital=None)
    assert sized.skipped and "no capital" in sized.skipped_reason


def test_capital_share_without_a_price_is_skipped_not_raised():
    sized = size_for(rule(capital_share=0.05), 1, INFY, price=None, capital=100_000)
    assert sized.skipped and "NSE:INFY" in sized.skipped_reason


@pytest.mark.parametrize("qty", [0, -5, 2.5, True])
def test_bad_signal_quantity_names_the_field(qty):
    with pytest.raises(ValidationError) as info:
        size_for(rule(multiplier=1), qty, INFY)
    assert info.value.field == "signal_qty"


def test_config_dict_parses_to_a_typed_rule():
    assert rule(capital_share=0.05) == SizingRule(SizingKind.CAPITAL_SHARE, 0.05)


@pytest.mark.parametrize(
    "config,field",
    [
        ({"multiplier": 0}, "multiplier"),
        ({"multiplier": -1}, "multiplier"),
        ({"multiplier": "2"}, "multiplier"),
        ({"fixed": 2.5}, "fixed"),
        ({"fixed": 0}, "fixed"),
        ({"capital_share": 1.5}, "capital_share"),
        ({"capital_share": 0}, "capital_share"),
        ({"lots": 2}, "lots"),
        ({}, "sizing"),
        ({"multiplier": 2, "fixed": 5}, "sizing"),
    ],
)
def test_bad_sizing_config_names_the_field(config, field):
    with pytest.raises(ValidationError) as info:
        SizingRule.from_config(config)
    assert info.value.field == field


LOTS = st.sampled_from([1, 15, 25, 50, 75, 1800])
RULES = st.one_of(
    st.decimals("0.01", "20", places=2).map(lambda d: rule(multiplier=float(d))),
    st.integers(1, 100_000).map(lambda n: rule(fixed=n)),
    st.decimals("0.0001", "1", places=4).map(lambda d: rule(capital_share=float(d))),
)


def allowed(r: SizingRule, signal_qty: int, price: float, capital: float) -> Decimal:
    """What the rule allows before lot rounding, in exact arithmetic."""
    v = Decimal(repr(r.value))
    if r.kind is SizingKind.MULTIPLIER:
        return signal_qty * v
    if r.kind is SizingKind.FIXED:
        return v
    return Decimal(repr(capital)) * v / Decimal(repr(price))


@given(
    r=RULES,
    lot=LOTS,
    signal_qty=st.integers(1, 10_000),
    price=st.decimals("0.05", "100000", places=2).map(float),
    capital=st.integers(1, 10**9).map(float),
)
def test_sizing_never_exceeds_the_rule_and_is_the_largest_lot_multiple(r, lot, signal_qty, price, capital):
    inst = Instrument("NFO", "X", 1, lot_size=lot)
    sized = size_for(r, signal_qty, inst, price=price, capital=capital)
    limit = allowed(r, signal_qty, price, capital)
    assert sized.quantity % lot == 0
    assert sized.quantity <= limit < sized.quantity + lot
    assert sized.skipped == (sized.skipped_reason != "")


def test_target_above_the_position_buys_the_difference():
    assert target_delta(100, 30) == (Side.BUY, 70)


def test_target_below_the_position_sells_through_zero():
    assert target_delta(-20, 30) == (Side.SELL, 50)


def test_target_already_reached_needs_no_order():
    assert target_delta(-20, -20) is None
