from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import OrderType, Side
from nbexec.risk.limits import RiskLimits
from nbexec.risk.slippage import last_price_known, protect, protect_market_order, spread_width, tick_age

from .helpers import INFY, MS, NOW, context, limit, request


def test_buy_is_protected_from_the_lower_of_ask_and_last_rounded_down():
    # min(1500.05, 1500.0) x 1.002 = 1503.0 exactly; 1503.0 is on the grid
    assert protect_market_order(INFY, Side.BUY, 1500.0, 20, bid=1499.95, ask=1500.05) == 1503.0
    # 1500.0 x 1.0013 = 1501.95 on the grid; x 1.00133 = 1501.995 rounds down to 1501.95
    assert protect_market_order(INFY, Side.BUY, 1500.0, 13.3, ask=1500.05) == 1501.95


def test_sell_is_protected_from_the_higher_of_bid_and_last_rounded_up():
    # max(1499.95, 1500.10) x 0.99867 = 1498.1049 rounds up to 1498.15
    assert protect_market_order(INFY, Side.SELL, 1500.10, 13.3, bid=1499.95, ask=1500.15) == 1498.15


def test_an_empty_book_side_leaves_the_last_trade_as_the_touch():
    assert protect_market_order(INFY, Side.BUY, 1500.0, 20, ask=0.0) == 1503.0
    assert protect_market_order(INFY, Side.SELL, 1500.0, 20, bid=None) == 1497.0


def test_zero_slippage_sends_at_the_touch():
    assert protect_market_order(INFY, Side.BUY, 1500.0, 0, ask=1500.05) == 1500.0


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"last_price": 0.0}, "last_price"),
        ({"last_price": None}, "last_price"),
        ({"max_slippage_bps": 10_000}, "max_slippage_bps"),
    ],
)
def test_unusable_protection_inputs_name_the_field(kw, field):
    args = {"last_price": 1500.0, "max_slippage_bps": 20} | kw
    with pytest.raises(ValidationError) as info:
        protect_market_order(INFY, Side.BUY, **args)
    assert info.value.field == field


TICKS = st.sampled_from([0.05, 0.01, 0.0025, 0.25, 1.0])


@given(
    tick=TICKS,
    last_ticks=st.integers(1, 10**7),
    ask_offset=st.integers(-50, 50),
    bps=st.decimals(0, 2000, places=2),
    side=st.sampled_from(list(Side)),
)
def test_protected_price_is_on_the_grid_inside_the_band_and_marketable(tick, last_ticks, ask_offset, bps, side):
    inst = Instrument("NSE", "X", 1, tick_size=tick)
    last = inst.from_ticks(last_ticks)
    quote = inst.from_ticks(max(1, last_ticks + ask_offset))
    kw = {"ask": quote} if side is Side.BUY else {"bid": quote}
    price = protect_market_order(inst, side, last, float(bps), **kw)

    assert inst.is_on_tick(price)
    touch = Fraction(repr(min(quote, last) if side is Side.BUY else max(quote, last)))
    edge = touch * (10_000 + side.sign * Fraction(bps)) / 10_000
    sent = Fraction(repr(price))
    if side is Side.BUY:
        assert touch <= sent <= edge
    else:
        assert edge <= sent <= touch


# -- the market data checks -------------------------------------------------------------------
def test_market_order_without_a_last_trade_is_refused():
    rejection = last_price_known(request(), RiskLimits(), context(last_price=None))
    assert rejection.check == "last_price_known" and "NSE:INFY" in rejection.reason


def test_limit_order_with_every_market_check_off_needs_no_market():
    limits = RiskLimits(price_band_bps=None, max_tick_age_s=None)
    assert last_price_known(limit(1500.0), limits, context(last_price=None)) is None


def test_stale_tick_is_refused_with_its_age_and_the_limit():
    rejection = tick_age(request(), RiskLimits(max_tick_age_s=2), context(last_tick_ns=NOW - 2_500 * MS))
    assert rejection.check == "tick_age"
    assert "2.500 s old" in rejection.reason and "max_tick_age_s 2" in rejection.reason


def test_tick_exactly_at_the_age_limit_passes():
    assert tick_age(request(), RiskLimits(max_tick_age_s=2), context(last_tick_ns=NOW - 2_000 * MS)) is None


def test_unknown_tick_time_is_refused():
    assert tick_age(request(), RiskLimits(), context(last_tick_ns=None)).check == "tick_age"


def test_stale_tick_does_not_block_a_limit_order_judged_by_nothing():
    limits = RiskLimits(price_band_bps=None)
    assert tick_age(limit(1500.0), limits, context(last_tick_ns=NOW - 60_000 * MS)) is None


def test_market_order_into_a_wide_spread_is_refused():
    rejection = spread_width(request(), RiskLimits(max_spread_bps=10), context(bid=1498.0, ask=1502.0))
    assert rejection.check == "spread_width"
    assert "26.7 bps" in rejection.reason and "max_spread_bps 10" in rejection.reason


def test_market_order_into_a_one_sided_book_is_refused():
    assert spread_width(request(), RiskLimits(), context(ask=None)).check == "spread_width"


def test_limit_order_is_not_judged_by_the_spread():
    assert spread_width(limit(1500.0), RiskLimits(max_spread_bps=1), context(bid=1400.0, ask=1600.0)) is None


def test_protect_turns_a_market_order_into_a_limit_at_the_protected_price():
    sent = protect(request(), RiskLimits(max_slippage_bps=20), context())
    assert (sent.order_type, sent.price) == (OrderType.LIMIT, 1503.0)


def test_protection_off_leaves_the_market_order_alone():
    assert protect(request(), RiskLimits(max_slippage_bps=None), context()) == request()
