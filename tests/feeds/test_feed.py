"""The user's Feed: callbacks, `async for`, last, symbols, and a close that leaves nothing behind."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from nbexec.brokers.kite.factory import KITE
from nbexec.core.errors import BrokerUnavailable, ValidationError
from nbexec.core.ticks import TICK_DTYPE
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed, Tick
from tests.brokers.adapter_helpers import kite_settings

from .helpers import client_sockets_to, feed_tasks, wait_until

FAST = ReconnectPolicy(base_s=0.05, cap_s=0.5)


def kite_feed(x, **kw) -> Feed:
    return KITE.feed(kite_settings(x), x.engine.instruments.values(), policy=FAST, **kw)


async def test_async_for_yields_tick_records_of_the_subscribed_instruments(paper_exchange):
    async with kite_feed(paper_exchange) as feed:
        seen: list[Tick] = []
        async for tick in feed:
            seen.append(tick)
            if {t.instrument for t in seen} == set(paper_exchange.engine.instruments):
                break
    assert all(isinstance(t, Tick) and t.last_price > 0 and t.mode == "quote" for t in seen)
    assert seen[0].received.tz is not None


async def test_async_for_ends_when_the_feed_closes(paper_exchange):
    feed = await kite_feed(paper_exchange).start()
    count = 0

    async def consume() -> None:
        nonlocal count
        async for _ in feed:
            count += 1

    consumer = asyncio.create_task(consume())
    await wait_until(lambda: count > 0, what="a first tick")
    await feed.close()
    await asyncio.wait_for(consumer, 5)


async def test_callbacks_get_each_decoded_batch_and_a_failing_one_does_not_stop_the_feed(paper_exchange):
    batches: list[np.ndarray] = []
    async with kite_feed(paper_exchange) as feed:

        @feed.on_tick
        def broken(ticks: np.ndarray) -> None:
            raise RuntimeError("strategy bug")

        feed.on_tick(batches.append)
        await wait_until(lambda: len(batches) >= 3, what="three batches")
        feed.remove_callback(broken)
    assert all(b.dtype == TICK_DTYPE and len(b) and not b.flags.writeable for b in batches)
    names = {feed.names[(int(t), int(s))] for b in batches for t, s in zip(b["token"], b["segment"], strict=True)}
    assert names == set(paper_exchange.engine.instruments)


async def test_a_callback_removing_itself_leaves_the_others_called_for_that_batch(paper_exchange):
    once: list[np.ndarray] = []
    after: list[np.ndarray] = []
    async with kite_feed(paper_exchange) as feed:

        def first_only(ticks: np.ndarray) -> None:
            feed.remove_callback(first_only)
            once.append(ticks)

        feed.on_tick(first_only)
        feed.on_tick(after.append)
        await wait_until(lambda: len(after) >= 3, what="three batches")
    assert len(once) == 1 and once[0] is after[0]


async def test_quote_callbacks_get_their_symbols_newest_quote_once_per_message_carrying_it(paper_exchange):
    seen: list[tuple] = []  # in call order: ("quote", its quote, the feed's newest) / ("batch", INFY in it)
    async with kite_feed(paper_exchange, mode="full") as feed:
        infy = feed.client.tick_id(paper_exchange.engine.instruments["NSE:INFY"])
        feed.on_quote("nse:infy", lambda q: seen.append(("quote", q, feed.quote("NSE:INFY"))))
        feed.on_tick(
            lambda ticks: seen.append(
                ("batch", infy in zip(ticks["token"].tolist(), ticks["segment"].tolist(), strict=True))
            )
        )
        await wait_until(lambda: sum(e[0] == "quote" for e in seen) >= 5, what="five INFY messages")
    first = next(i for i, e in enumerate(seen) if e[0] == "batch")  # a callback may join mid-message
    calls = seen[first:]
    for before, event in zip(calls, calls[1:], strict=False):
        if event[0] == "batch":
            assert (before[0] == "quote") == event[1], calls  # a quote call right before each INFY batch only
    quotes = [e for e in calls if e[0] == "quote"]
    assert quotes and all(q == newest and q.last_price > 0 and q.bid > 0 for _, q, newest in quotes)


async def test_quote_callbacks_can_be_removed_even_by_themselves(paper_exchange):
    calls: list = []
    async with kite_feed(paper_exchange) as feed:

        def once(quote) -> None:
            feed.remove_callback(once)
            calls.append(quote)

        feed.on_quote("NSE:INFY", once)
        feed.on_quote("NSE:INFY", calls.append)
        await wait_until(lambda: len(calls) >= 4, what="INFY quotes")
        feed.remove_callback(calls.append)
        with pytest.raises(ValidationError, match="callback"):
            feed.remove_callback(calls.append)
        with pytest.raises(ValidationError, match="NSE:NOPE"):
            feed.on_quote("NSE:NOPE", calls.append)
    assert calls[0] is calls[1]  # `once` and the second callback saw the same quote, `once` no other


async def test_a_rehearsal_decodes_the_newest_tick_message_again_and_changes_nothing(paper_exchange):
    calls: list = []
    async with kite_feed(paper_exchange, mode="full") as feed:
        feed.rehearse()  # nothing received yet: nothing to decode, no error
        decoded: list = []
        decode = feed.client._decode
        feed.client._decode = lambda data: decoded.append(data) or decode(data)
        feed.on_tick(calls.append)
        feed.on_quote("NSE:INFY", calls.append)
        await wait_until(lambda: len(calls) >= 3, what="ticks")
        before = (len(calls), len(feed.rings), feed.rings.count(feed._ids["NSE:INFY"]), len(decoded))
        feed.rehearse()  # no await in between: no tick can arrive meanwhile
        after = (len(calls), len(feed.rings), feed.rings.count(feed._ids["NSE:INFY"]), len(decoded))
    newest_ticks = next(d for d in reversed(decoded[:-1]) if len(d) > 1)  # not a 1-byte heartbeat
    assert after == (*before[:3], before[3] + 1) and decoded[-1] is newest_ticks


async def test_last_is_the_newest_tick_of_a_symbol(paper_exchange):
    async with kite_feed(paper_exchange, mode="full") as feed:
        await wait_until(lambda: feed.last("nse:infy") is not None)
        tick, df = feed.last("NSE:INFY"), feed.df  # no await between: the same moment
        assert tick.instrument == "NSE:INFY" and tick.mode == "full" and tick.bid > 0
        assert tick.received_ns == df[df["instrument"] == "NSE:INFY"].index[-1].value


async def test_symbols_outside_the_feed_are_a_named_error(paper_exchange):
    feed = kite_feed(paper_exchange)
    with pytest.raises(ValidationError, match="NSE:NOPE"):
        feed.subscribe("NSE:NOPE")
    with pytest.raises(ValidationError, match="symbol"):
        feed.last("INFY")


async def test_close_leaves_no_task_and_no_socket(paper_exchange):
    feed = await kite_feed(paper_exchange).start()
    await feed.wait_connected()
    await wait_until(lambda: len(feed.rings) > 0)
    assert client_sockets_to(paper_exchange.port) == 1
    await feed.close()
    await feed.close()  # idempotent
    assert feed_tasks() == [] and not feed.client.connected
    await wait_until(lambda: client_sockets_to(paper_exchange.port) == 0, timeout=5)


async def test_close_while_the_exchange_is_unreachable_leaves_no_task(unused_tcp_port):
    feed = KITE.feed(
        {"ws_url": f"ws://127.0.0.1:{unused_tcp_port}/kite/ws", "api_key": "k", "access_token": "t"}, [], policy=FAST
    )
    await feed.start()
    with pytest.raises(BrokerUnavailable, match="not connected"):
        await feed.wait_connected(0.3)  # meanwhile: refused connects and backoff sleeps
    await feed.close()
    assert feed_tasks() == []
