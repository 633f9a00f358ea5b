"""Target-position signals and route choice by health, against the paper exchange."""

import time

from nbexec.engine.routing import record_failure
from nbexec.risk.limits import RiskLimits


async def test_target_sends_each_account_the_delta_to_its_position(engine_factory):
    oms = await engine_factory(accounts=3, risk=RiskLimits(duplicate_window_s=None))
    await oms.subscribe("NSE:SBIN")
    await (oms.fire("NSE:SBIN", "BUY", 1, accounts=["PA0001"], signal_id="seed")).done(timeout=30)

    up = await oms.target("NSE:SBIN", 3, signal_id="to-3")
    await up.done(timeout=30)
    assert {a: (o.side.value, o.quantity) for a, o in up.orders.items()} == {
        "PA0001": ("BUY", 2),
        "PA0002": ("BUY", 3),
        "PA0003": ("BUY", 3),
    }
    assert {a: oms.position(a, "NSE:SBIN").quantity for a in oms.accounts} == {a: 3 for a in oms.accounts}

    flat = await oms.target("NSE:SBIN", 0, signal_id="to-0")
    await flat.done(timeout=30)
    assert {o.side.value for o in flat.orders.values()} == {"SELL"}
    for account in oms.accounts:
        (stored,) = await oms.store.positions(account)
        assert stored.quantity == 0 == oms.position(account, "NSE:SBIN").quantity


async def test_orders_avoid_a_route_whose_circuit_is_open(engine_factory):
    oms = await engine_factory(accounts=2)
    await oms.subscribe("NSE:TCS")
    for account in oms.accounts.values():
        kite = next(r for r in account.routes if r.name == "kite")
        for _ in range(kite.breaker.failure_threshold):
            record_failure(kite, time.monotonic_ns())
    fanout = oms.fire("NSE:TCS", "BUY", 1, signal_id="around-kite")
    await fanout.done(timeout=30)
    assert {(o.route, o.status.value) for o in fanout.orders.values()} == {("dhan", "FILLED")}
