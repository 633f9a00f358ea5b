import pytest

from nbexec.core.errors import RiskRejected
from nbexec.core.orders import Side
from nbexec.risk.checks import (
    daily_loss,
    duplicate_signal,
    kill_switch,
    max_order_value,
    max_position,
    max_quantity,
    price_band,
)
from nbexec.risk.context import RecentSignal, fingerprint
from nbexec.risk.limits import RiskLimits
from nbexec.risk.verdict import Rejection

from .helpers import MS, NOW, context, limit, request


def seen(signal_id: str, ago_ms: int, **kw) -> RecentSignal:
    return RecentSignal(signal_id, fingerprint(request(**kw)), NOW - ago_ms * MS)


# -- kill switch ------------------------------------------------------------------------------
def test_kill_switch_blocks_every_order():
    rejection = kill_switch(request(), RiskLimits(), context(killed=True))
    assert rejection.check == "kill_switch"


def test_kill_switch_off_passes():
    assert kill_switch(request(), RiskLimits(), context()) is None


# -- duplicate signal -------------------------------------------------------------------------
def test_same_trade_under_a_new_signal_within_the_window_is_refused():
    ctx = context(recent_signals=(seen("sig0", 800),))
    rejection = duplicate_signal(request(signal_id="sig1"), RiskLimits(duplicate_window_s=2), ctx)
    assert rejection.check == "duplicate_signal"
    assert "'sig0'" in rejection.reason and "duplicate_window_s 2" in rejection.reason


def test_same_signal_id_is_a_replay_and_passes():
    ctx = context(recent_signals=(seen("sig1", 10),))
    assert duplicate_signal(request(signal_id="sig1"), RiskLimits(), ctx) is None


def test_same_trade_after_the_window_passes():
    ctx = context(recent_signals=(seen("sig0", 2_001),))
    assert duplicate_signal(request(), RiskLimits(duplicate_window_s=2), ctx) is None


@pytest.mark.parametrize("differs", [{"account": "ACC2"}, {"side": Side.SELL}, {"quantity": 11}])
def test_a_different_fingerprint_is_not_a_duplicate(differs):
    ctx = context(recent_signals=(seen("sig0", 10, **differs),))
    assert duplicate_signal(request(), RiskLimits(), ctx) is None


def test_duplicate_guard_off_passes_repeats():
    ctx = context(recent_signals=(seen("sig0", 10),))
    assert duplicate_signal(request(), RiskLimits(duplicate_window_s=None), ctx) is None


# -- max quantity -----------------------------------------------------------------------------
def test_quantity_over_the_limit_names_value_and_limit():
    rejection = max_quantity(request(quantity=600), RiskLimits(max_quantity=500), context())
    assert rejection == Rejection("max_quantity", "quantity 600 exceeds max_quantity 500")


def test_quantity_at_the_limit_passes():
    assert max_quantity(request(quantity=500), RiskLimits(max_quantity=500), context()) is None


# -- max position -----------------------------------------------------------------------------
def test_position_pushed_past_the_limit_is_refused():
    rejection = max_position(request(quantity=60), RiskLimits(max_position=100), context(position=50))
    assert rejection.check == "max_position"
    assert "110" in rejection.reason and "max_position 100" in rejection.reason


def test_short_position_past_the_limit_is_refused():
    rejection = max_position(request(side=Side.SELL, quantity=60), RiskLimits(max_position=100), context(position=-50))
    assert "-110" in rejection.reason


def test_order_that_shrinks_an_oversized_position_passes():
    assert (
        max_position(request(side=Side.SELL, quantity=10), RiskLimits(max_position=100), context(position=150)) is None
    )


def test_position_landing_on_the_limit_passes():
    assert max_position(request(quantity=50), RiskLimits(max_position=100), context(position=50)) is None


# -- daily loss -------------------------------------------------------------------------------
def test_beyond_the_loss_limit_a_new_risk_order_is_refused():
    rejection = daily_loss(request(), RiskLimits(daily_loss_limit=10_000), context(pnl=-12_500.0))
    assert rejection.check == "daily_loss"
    assert "-12,500.00" in rejection.reason and "-10,000.00" in rejection.reason


def test_beyond_the_loss_limit_a_reducing_order_passes():
    ctx = context(pnl=-12_500.0, position=20)
    assert daily_loss(request(side=Side.SELL, quantity=20), RiskLimits(daily_loss_limit=10_000), ctx) is None


def test_beyond_the_loss_limit_an_order_that_flips_the_position_is_refused():
    ctx = context(pnl=-12_500.0, position=20)
    assert daily_loss(request(side=Side.SELL, quantity=30), RiskLimits(daily_loss_limit=10_000), ctx)


def test_beyond_the_loss_limit_adding_to_a_short_is_refused():
    ctx = context(pnl=-12_500.0, position=-20)
    assert daily_loss(request(side=Side.SELL, quantity=5), RiskLimits(daily_loss_limit=10_000), ctx)


def test_loss_exactly_at_the_limit_still_trades():
    assert daily_loss(request(), RiskLimits(daily_loss_limit=10_000), context(pnl=-10_000.0)) is None


# -- price band -------------------------------------------------------------------------------
def test_limit_price_far_from_the_last_trade_is_refused():
    rejection = price_band(limit(1650.0), RiskLimits(price_band_bps=500), context(last_price=1500.0))
    assert rejection.check == "price_band"
    assert "1650.0" in rejection.reason and "1000.0 bps" in rejection.reason and "500" in rejection.reason


def test_limit_price_inside_the_band_passes():
    assert price_band(limit(1570.0), RiskLimits(price_band_bps=500), context(last_price=1500.0)) is None


def test_price_band_ignores_an_unpriced_order():
    assert price_band(request(), RiskLimits(price_band_bps=1, max_slippage_bps=None), context()) is None


# -- max order value --------------------------------------------------------------------------
def test_order_value_over_the_limit_is_refused_at_its_limit_price():
    rejection = max_order_value(limit(1500.0, quantity=100), RiskLimits(max_order_value=100_000), context())
    assert rejection.check == "max_order_value"
    assert "150,000.00" in rejection.reason and "100,000.00" in rejection.reason


def test_unpriced_order_is_valued_at_the_last_trade():
    rejection = max_order_value(request(quantity=100), RiskLimits(max_order_value=100_000), context(last_price=1001.0))
    assert "100 x 1001.0" in rejection.reason


def test_order_value_at_the_limit_passes():
    assert max_order_value(limit(1000.0, quantity=100), RiskLimits(max_order_value=100_000), context()) is None


# -- the exception form -----------------------------------------------------------------------
def test_a_rejection_becomes_the_risk_rejected_error():
    error = Rejection("max_quantity", "quantity 600 exceeds max_quantity 500").error()
    assert isinstance(error, RiskRejected)
    assert (error.check, str(error)) == ("max_quantity", "max_quantity: quantity 600 exceeds max_quantity 500")
