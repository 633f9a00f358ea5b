from nbexec.core.orders import OrderType
from nbexec.risk.context import RecentSignal, fingerprint
from nbexec.risk.limits import RiskLimits
from nbexec.risk.pretrade import ACCOUNT_CHECKS, MARKET_CHECKS, evaluate, price_for_market

from .helpers import MS, NOW, context, limit, request

STRICT = RiskLimits(max_quantity=100, max_order_value=1_000_000, max_position=200, daily_loss_limit=5_000)


def test_checks_run_in_the_documented_order():
    names = [check.__name__ for check in ACCOUNT_CHECKS + MARKET_CHECKS] + ["price_band", "max_order_value"]
    assert names == [
        "kill_switch",
        "duplicate_signal",
        "max_quantity",
        "max_position",
        "daily_loss",
        "last_price_known",
        "tick_age",
        "spread_width",
        "price_band",
        "max_order_value",
    ]


def test_a_clean_market_order_is_accepted_as_a_protected_limit():
    decision = evaluate(request(), RiskLimits(max_slippage_bps=20), context())
    assert decision.accepted
    assert (decision.order_type, decision.price) == (OrderType.LIMIT, 1503.0)


def test_a_clean_limit_order_is_accepted_at_its_own_price():
    decision = evaluate(limit(1499.0), STRICT, context())
    assert decision.accepted and (decision.order_type, decision.price) == (OrderType.LIMIT, 1499.0)


def test_with_protection_off_a_market_order_stays_market():
    decision = evaluate(request(), RiskLimits(max_slippage_bps=None), context())
    assert decision.accepted and decision.order_type is OrderType.MARKET


def test_the_first_failing_check_wins():
    # breaks max_quantity, max_position and the daily loss limit at once
    decision = evaluate(request(quantity=500), STRICT, context(pnl=-9_000.0))
    assert not decision.accepted
    assert decision.rejection.check == "max_quantity"


def test_kill_switch_beats_an_idempotent_replay_and_everything_else():
    ctx = context(killed=True, recent_signals=(RecentSignal("sig1", fingerprint(request()), NOW - MS),))
    assert evaluate(request(), STRICT, ctx).rejection.check == "kill_switch"


def test_a_rejection_keeps_the_order_as_requested():
    decision = evaluate(request(quantity=500), STRICT, context())
    assert (decision.order_type, decision.price) == (OrderType.MARKET, 0.0)


def test_order_value_is_judged_at_the_protected_price():
    # 100 x 1503.0 = 150,300 > 150,000, although 100 x last 1500.0 would pass
    decision = evaluate(request(quantity=100), RiskLimits(max_slippage_bps=20, max_order_value=150_000), context())
    assert decision.rejection.check == "max_order_value"
    assert "100 x 1503.0" in decision.rejection.reason


def test_stale_market_refuses_a_market_order_before_pricing_it():
    decision = evaluate(request(), RiskLimits(), context(last_tick_ns=NOW - 10_000 * MS))
    assert decision.rejection.check == "tick_age"


def test_every_check_off_but_the_kill_switch_accepts_anything():
    off = RiskLimits(
        price_band_bps=None, max_slippage_bps=None, max_tick_age_s=None, max_spread_bps=None, duplicate_window_s=None
    )
    decision = evaluate(
        request(quantity=10**6), off, context(last_price=None, bid=None, ask=None, last_tick_ns=None, pnl=-(10**9))
    )
    assert decision.accepted and decision.order_type is OrderType.MARKET


def test_a_market_verdict_reused_across_accounts_decides_as_a_fresh_one():
    limits = RiskLimits(max_slippage_bps=20, max_order_value=1_000_000)
    shared = price_for_market(request(), limits, context())
    for quantity in (1, 10, 1_000):
        assert evaluate(request(quantity=quantity), limits, context(), shared) == evaluate(
            request(quantity=quantity), limits, context()
        )
