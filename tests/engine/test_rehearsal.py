"""Rehearsals: while busy polling, armed signals are readied as if fired and thrown away, to
keep the order path warm. Nothing may leave, be recorded or change because of one."""

import asyncio
import time

import pytest

from nbexec.core.errors import ValidationError
from nbexec.core.orders import make_tag
from nbexec.core.states import OrderStatus
from tests.engine.test_armed import exchange_orders

S = OrderStatus


class ReadySpy:
    """Counts the engine's rehearsals (`readier.ready` with `rehearsal=True`); behaviour unchanged."""

    def __init__(self, oms) -> None:
        self.rehearsals, ready = 0, oms.readier.ready

        def spy(*args, **kwargs):
            self.rehearsals += bool(kwargs.get("rehearsal"))
            return ready(*args, **kwargs)

        oms.readier.ready = spy


async def busy_for(oms, seconds: float) -> None:
    oms.busy_poll = True
    try:
        await asyncio.sleep(seconds)
    finally:
        oms.busy_poll = False


async def armed_infy(engine_factory, accounts: int = 2, signal_id: str = "rehearsed"):
    oms = await engine_factory(accounts=accounts)
    await oms.subscribe("NSE:INFY")
    price = oms.last_quote("NSE:INFY").last_price
    return oms, price, oms.arm("NSE:INFY", "BUY", 1, order_type="LIMIT", price=price, signal_id=signal_id)


async def test_rehearsals_send_record_and_change_nothing(engine_factory):
    oms, price, armed = await armed_infy(engine_factory)
    spy, journal = ReadySpy(oms), oms.journal.path.read_bytes()
    feed, feed_rehearsals = oms.feeds[-1], []
    rehearse = feed.rehearse
    feed.rehearse = lambda: feed_rehearsals.append(1) or rehearse()
    await busy_for(oms, 0.3)
    assert spy.rehearsals >= 10, spy.rehearsals  # ~300 at 1 ms; a loaded machine polls less often
    assert len(feed_rehearsals) == spy.rehearsals  # its feed's decoder is warmed with it
    assert oms.journal.path.read_bytes() == journal
    assert exchange_orders(oms, lambda a: make_tag("rehearsed", a)) == {a: [] for a in oms.accounts}
    assert [await oms.store.find_by_signal(a, "rehearsed") for a in oms.accounts] == [None, None]
    assert not oms.fanouts and not oms.orders
    # the duplicate-signal guard (5 s) saw nothing: the same trade under another id goes out
    other = oms.fire("NSE:INFY", "BUY", 1, order_type="LIMIT", price=price, signal_id="same-shape")
    await other.done(timeout=30)
    assert all(o.status is not S.RISK_REJECTED for o in other.orders.values()), other.df
    # ... and the guard is on: the armed signal, fired now, is that trade again too soon
    fired = armed.fire()
    await fired.done(timeout=30)
    assert all(o.reject_reason.startswith("duplicate_signal") for o in fired.orders.values()), fired.df


async def test_only_armed_signals_not_yet_fired_are_rehearsed_and_only_while_polling(engine_factory):
    oms, _, armed = await armed_infy(engine_factory, accounts=1)
    spy = ReadySpy(oms)
    await asyncio.sleep(0.1)
    assert spy.rehearsals == 0  # not polling
    oms.rehearse_every_s = None
    await busy_for(oms, 0.1)
    assert spy.rehearsals == 0  # rehearsals off
    oms.rehearse_every_s = 0.001
    await busy_for(oms, 0.1)
    assert spy.rehearsals > 0
    await armed.fire().done(timeout=30)
    spy.rehearsals = 0
    await busy_for(oms, 0.1)
    assert spy.rehearsals == 0  # fired: nothing left to rehearse


async def test_a_rehearsal_does_not_take_a_half_open_routes_probe(engine_factory):
    oms, _, armed = await armed_infy(engine_factory, accounts=1)
    route, *others = next(iter(oms.accounts.values())).routes
    now = time.monotonic_ns()
    route.breaker.opened_at_ns = now - route.breaker.cooldown_ns  # cooled down: half-open
    for other in others:
        other.breaker.opened_at_ns = now  # open: the half-open one is the only way
    spy = ReadySpy(oms)
    await busy_for(oms, 0.1)
    assert spy.rehearsals > 0 and not route.breaker.probe_out
    fanout = armed.fire()  # the probe is still there for the real order
    assert route.breaker.probe_out
    await fanout.done(timeout=30)
    assert all(o.status is not S.RISK_REJECTED for o in fanout.orders.values()), fanout.df


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "1ms", True])
async def test_a_bad_rehearsal_period_is_a_named_error(engine_factory, value):
    oms = await engine_factory(accounts=1)
    with pytest.raises(ValidationError, match="rehearse_every_s"):
        oms.rehearse_every_s = value
    assert oms.rehearse_every_s == 0.001
