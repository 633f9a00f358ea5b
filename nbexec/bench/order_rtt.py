"""order_rtt: placing orders through `KiteBroker` vs what a user would use instead, on the paper exchange.

The exchange runs as `nbexec sim` in its own process (an exchange on this process's loop would
compete for the same core and bill its work to the client). Alternating in one run:

(a) one order's place round trip (LIMIT, resting, so nothing fills): nbexec's `KiteBroker.place`
    over its warm pool; the official `KiteConnect.place_order` (requests.Session, warm; run in a
    worker thread and timed there, so the loop is never blocked and the hop is not billed);
    and a new connection per order (asyncio.open_connection, the same pre-rendered bytes).
(b) 50 accounts at once, until all 50 acks are in: nbexec (`send_place` for all 50 over one
    shared warm pool, then one gather) vs the official SDK looping over 50 `KiteConnect`
    clients sequentially (in a worker thread).

Every ack is checked (an order id came back) outside the timed span. Client-side rate limits
are lifted for nbexec and the sim runs with `--no-rate-limits`, so limits are not what is timed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from ..brokers.kite.adapter import KiteBroker
from ..brokers.kite.config import KiteConfig
from ..brokers.kite.parsing import parse_ack
from ..brokers.retry import KITE_RATE_LIMITS, RateLimit
from ..brokers.transport import ConnectionPool
from ..brokers.wire import ResponseReader
from ..core.errors import NbexecError
from ..core.orders import Order, OrderType, Side
from .official_stack import sdk_clients, sdk_place
from .paper_session import start_sim, stop_sim
from .stats import ratio, summary

ACCOUNTS = 50
PRICE = 1300.0  # below INFY's ~1500: the order rests, nothing fills, no cash runs out
UNLIMITED = {**KITE_RATE_LIMITS, "order": RateLimit(), "other": RateLimit()}


def _config(info: dict, i: int) -> KiteConfig:
    a = info["accounts"][i]
    return KiteConfig(
        api_key=a["kite_api_key"],
        access_token=a["kite_access_token"],
        account=a["id"],
        root=info["kite_rest"],
        ws_url=info["kite_ws"],
    )


class _Tags:
    def __init__(self) -> None:
        self.n = 0

    def order(self, account: str) -> Order:
        self.n += 1
        return Order(
            order_id=f"b{os.getpid()}n{self.n}",
            signal_id="bench",
            account=account,
            instrument="NSE:INFY",
            side=Side.BUY,
            quantity=1,
            order_type=OrderType.LIMIT,
            price=PRICE,
        )


def _sdk_place(kc, tag: str) -> tuple[float, str]:
    """One official place_order, timed inside the worker thread (ns)."""
    t0 = time.perf_counter_ns()
    order_id = sdk_place(kc, tag, PRICE)
    return time.perf_counter_ns() - t0, order_id


def _sdk_loop(clients, tags: list[str]) -> tuple[float, list[str]]:
    """The official SDK placing for every account, one after another (ns for all)."""
    t0 = time.perf_counter_ns()
    ids = [sdk_place(kc, tag, PRICE) for kc, tag in zip(clients, tags, strict=True)]
    return time.perf_counter_ns() - t0, ids


async def _new_connection(broker: KiteBroker, order: Order) -> tuple[float, str]:
    """Open, write the same bytes nbexec writes, frame the answer, close (ns)."""
    requests = broker.requests
    data = requests.place.render(requests.place_body(order))  # type: ignore[union-attr]  # the broker is started
    endpoint = broker.endpoint
    t0 = time.perf_counter_ns()
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    try:
        writer.write(data)
        framer = ResponseReader()
        while not framer.feed(await reader.read(65536) or b""):
            if reader.at_eof():
                raise NbexecError("order_rtt bench: the sim closed before answering")
        response = framer.take()
    finally:
        writer.close()
    elapsed = time.perf_counter_ns() - t0
    return elapsed, parse_ack(response, order.tag).broker_order_id


async def _singles(n: int, broker: KiteBroker, sdk, tags: _Tags) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"nbexec": [], "official_sdk": [], "new_connection": []}

    async def nbexec() -> None:
        t0 = time.perf_counter_ns()
        ack = await broker.place(tags.order(broker.account))
        out["nbexec"].append((time.perf_counter_ns() - t0) / 1e3)
        assert ack.broker_order_id

    async def official() -> None:
        elapsed, order_id = await asyncio.to_thread(_sdk_place, sdk, tags.order("x").tag)
        out["official_sdk"].append(elapsed / 1e3)
        assert order_id

    async def fresh() -> None:
        elapsed, order_id = await _new_connection(broker, tags.order(broker.account))
        out["new_connection"].append(elapsed / 1e3)
        assert order_id

    clients = [nbexec, official, fresh]
    for i in range(n):
        for k in range(len(clients)):
            await clients[(i + k) % len(clients)]()
    return out


async def _fan_outs(rounds: int, brokers: list[KiteBroker], sdk_clients, tags: _Tags) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"nbexec": [], "official_sdk_sequential": []}
    for r in range(rounds):
        for k in range(2):
            if (r + k) % 2 == 0:
                orders = [tags.order(b.account) for b in brokers]
                t0 = time.perf_counter_ns()
                acks = await asyncio.gather(*[b.send_place(o) for b, o in zip(brokers, orders, strict=True)])
                out["nbexec"].append((time.perf_counter_ns() - t0) / 1e6)
                if [a.tag for a in acks] != [o.tag for o in orders]:
                    raise NbexecError("order_rtt bench: nbexec acks do not match their orders")
            else:
                elapsed, ids = await asyncio.to_thread(
                    _sdk_loop, sdk_clients, [tags.order("x").tag for _ in sdk_clients]
                )
                out["official_sdk_sequential"].append(elapsed / 1e6)
                if not all(ids):
                    raise NbexecError("order_rtt bench: the SDK returned an empty order id")
    return out


async def run(quick: bool) -> dict:
    singles, rounds = (60, 8) if quick else (1000, 60)
    load_before = os.getloadavg()[0]
    proc, info = await start_sim(ACCOUNTS, "--no-rate-limits")
    tags = _Tags()
    brokers: list[KiteBroker] = []
    pool = None
    try:
        host, port = info["kite_rest"].split("//")[1].split(":")
        pool = ConnectionPool(host, int(port), size=ACCOUNTS, max_size=ACCOUNTS * 2, broker="kite")
        brokers = [KiteBroker(_config(info, i), pool=pool, rate_limits=UNLIMITED) for i in range(ACCOUNTS)]
        await asyncio.gather(*(b.start() for b in brokers))
        clients = sdk_clients(info)
        await asyncio.to_thread(_sdk_loop, clients, [tags.order("x").tag for _ in clients])  # warm
        await _fan_outs(2, brokers, clients, tags)  # warm
        one = await _singles(singles, brokers[0], clients[0], tags)
        fifty = await _fan_outs(rounds, brokers, clients, tags)
    finally:
        await asyncio.gather(*(b.close() for b in brokers), return_exceptions=True)
        if pool is not None:
            await pool.close()
        await stop_sim(proc)
    single = {name: summary(s, "us") for name, s in one.items()}
    all_acked = {name: summary(s, "ms") for name, s in fifty.items()}
    return {
        "one_order_round_trip": single,
        "fifty_accounts_all_acked": all_acked,
        "one_order_p50_ratio_over_nbexec": {
            n: ratio(s["p50"], single["nbexec"]["p50"]) for n, s in single.items() if n != "nbexec"
        },
        "fifty_p50_ratio_sdk_over_nbexec": ratio(
            all_acked["official_sdk_sequential"]["p50"], all_acked["nbexec"]["p50"]
        ),
        "fifty_p99_ratio_sdk_over_nbexec": ratio(
            all_acked["official_sdk_sequential"]["p99"], all_acked["nbexec"]["p99"]
        ),
        "accounts": ACCOUNTS,
        "server": "nbexec sim (paper exchange), own process, loopback",
        "load_average_1m_before": load_before,
    }


def main(argv: list[str]) -> None:
    from .runner import format_table

    print(format_table(asyncio.run(run(quick="--full" not in argv))))


if __name__ == "__main__":
    main(sys.argv[1:])
