"""No order lost, none sent twice: UNKNOWN orders resolved by tag, unsent ones sent exactly once.

Both adapters, against the real paper exchange over real sockets.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from nbexec.brokers.reconcile import resolve_unknown
from nbexec.brokers.retry import OutcomeUnknown, RetryPolicy
from nbexec.brokers.transport import ConnectionPool
from nbexec.brokers.wire import ConnectFailed, RequestTimedOut, TransportError
from nbexec.core.states import OrderStatus
from nbexec.paper import FRONT_ENDS, PaperExchange
from tests.brokers.adapter_helpers import book_orders, make_broker, order, requests_with_tag, wait_until

BROKERS = ["kite", "dhan"]


class RecordingPool(ConnectionPool):
    """A pool that remembers how each request ended (to see a refused first attempt)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: list[str] = []

    async def request(self, *args, **kwargs):
        try:
            response = await super().request(*args, **kwargs)
        except TransportError as exc:
            self.outcomes.append(type(exc).__name__)
            raise
        self.outcomes.append(str(response.status))
        return response


@pytest.mark.parametrize("kind", BROKERS)
async def test_a_place_that_is_never_answered_is_unknown_then_found_by_its_tag(kind, make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False)
    broker = make_broker(kind, x, settings={"order_timeout_s": 0.5})
    await broker.start()
    try:
        x.set_faults("hang=1")  # accept, process, never answer
        o = order(quantity=2)
        with pytest.raises(OutcomeUnknown) as err:
            await broker.place(o)
        assert isinstance(err.value.cause, RequestTimedOut) and err.value.cause.maybe_delivered
        x.set_faults(None)
        found = await resolve_unknown(broker, o, interval_s=0.05)
        assert found is not None and found.tag == o.tag
        assert (found.status, found.filled_quantity, found.quantity) == (OrderStatus.FILLED, 2, 2)
        [booked] = book_orders(x, tag=o.tag)
        assert booked.order_id == found.broker_order_id
        assert len(requests_with_tag(x, o.tag)) == 1
    finally:
        await broker.close()


@pytest.mark.parametrize("kind", BROKERS)
async def test_an_order_the_broker_never_got_resolves_to_none(kind, make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False)
    broker = make_broker(kind, x)
    await broker.start()
    try:
        assert await resolve_unknown(broker, order(), interval_s=0.05) is None
    finally:
        await broker.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", BROKERS)
async def test_a_place_refused_before_the_write_is_sent_again_and_booked_once(kind):
    port = _free_port()
    x = PaperExchange(FRONT_ENDS, port=port, accounts=1, tick_rate=0, rate_limits=False)
    pool = RecordingPool("127.0.0.1", port, size=0, broker=kind)  # nothing warm: must connect
    broker = make_broker(kind, x, pool=pool, policy=RetryPolicy(max_attempts=20, base_s=0.1, cap_s=0.1))
    broker.stream_timeout_s = 0.1  # the exchange is not up yet: go on without updates
    await broker.start()
    try:
        o = order(quantity=1)
        pending = broker.send_place(o)  # first attempt: connection refused
        while not pool.outcomes:  # (its connect runs in a task of its own)
            await asyncio.sleep(0.005)
        await x.start()  # the exchange comes up; the retry gets through
        ack = await pending
        assert pool.outcomes[0] == ConnectFailed.__name__ and pool.outcomes[-1] in ("200", "202")
        assert set(pool.outcomes[:-1]) == {ConnectFailed.__name__}
        [booked] = book_orders(x, tag=o.tag)
        assert booked.order_id == ack.broker_order_id and booked.filled_quantity == 1
        assert len(requests_with_tag(x, o.tag)) == 1
    finally:
        await broker.close()
        await pool.close()
        await x.close()


@pytest.mark.parametrize("kind", BROKERS)
async def test_a_place_refused_with_429_on_its_first_write_is_sent_again_and_booked_once(kind, make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False)
    broker = make_broker(
        kind, x, policy=RetryPolicy(max_attempts=5, base_s=0.05, cap_s=0.05, rate_limited_floor_s=0.05)
    )
    await broker.start()
    try:
        x.set_faults("429=1")
        before = x.recorder.request_seq
        o = order(quantity=1)
        pending = broker.send_place(o)  # written now, on an idle warm connection
        await wait_until(lambda: x.recorder.request_seq > before, what="the first attempt to arrive")
        await asyncio.sleep(0.01)  # ... and be answered 429
        x.set_faults("")  # the retry after the backoff gets through
        ack = await pending
        [booked] = book_orders(x, tag=o.tag)
        assert booked.order_id == ack.broker_order_id
        assert x.recorder.request_seq - before >= 2
        assert len(requests_with_tag(x, o.tag)) == 1  # only the processed attempt carries the tag
    finally:
        await broker.close()
