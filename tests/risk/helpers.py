"""Plain values for risk tests: one instrument, a request and a context with a fresh market."""

from nbexec.core.instruments import Instrument
from nbexec.core.orders import OrderType, Side
from nbexec.risk.context import OrderRequest, RiskContext

INFY = Instrument("NSE", "INFY", 1594, tick_size=0.05)
NOW = 1_000_000_000_000
MS = 1_000_000


def request(**kw) -> OrderRequest:
    base = dict(
        signal_id="sig1",
        account="ACC1",
        instrument=INFY,
        side=Side.BUY,
        quantity=10,
        order_type=OrderType.MARKET,
        price=0.0,
    )
    return OrderRequest(**(base | kw))


def limit(price: float, **kw) -> OrderRequest:
    return request(order_type=OrderType.LIMIT, price=price, **kw)


def context(**kw) -> RiskContext:
    base = dict(now_ns=NOW, last_price=1500.0, bid=1499.95, ask=1500.05, last_tick_ns=NOW - 50 * MS)
    return RiskContext(**(base | kw))
