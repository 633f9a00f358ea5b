"""Building adapters against a running paper exchange, and waiting for the exchange's book."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

from nbexec.brokers.dhan.adapter import DhanBroker
from nbexec.brokers.dhan.config import DhanConfig
from nbexec.brokers.kite.adapter import KiteBroker
from nbexec.brokers.kite.config import KiteConfig
from nbexec.brokers.types import BrokerAck
from nbexec.core.catalog import Catalog
from nbexec.core.orders import Order
from nbexec.core.states import OrderStatus
from nbexec.paper import PaperExchange
from tests.fixtures.waiting import wait_until  # noqa: F401  (the adapters' tests import it from here)

_tags = itertools.count(1)


def kite_settings(x: PaperExchange, i: int = 0, **overrides) -> dict:
    """Paper account `i` as a Kite route's settings (what `KITE` and `KiteConfig` build from)."""
    a = x.accounts[i]
    urls = x.urls()
    return {
        "api_key": a.kite_api_key,
        "access_token": a.kite_access_token,
        "api_secret": a.kite_api_secret,
        "account": a.id,
        "root": urls["kite_rest"],
        "ws_url": urls["kite_ws"],
        **overrides,
    }


def dhan_settings(x: PaperExchange, i: int = 0, **overrides) -> dict:
    """Paper account `i` as a Dhan route's settings (what `DHAN` and `DhanConfig` build from)."""
    a = x.accounts[i]
    urls = x.urls()
    return {
        "client_id": a.dhan_client_id,
        "access_token": a.dhan_access_token,
        "account": a.id,
        "rest_base": urls["dhan_rest"],
        "feed_ws_url": urls["dhan_feed_ws"],
        "order_ws_url": urls["dhan_order_ws"],
        **overrides,
    }


def kite_config(x: PaperExchange, i: int = 0, **overrides) -> KiteConfig:
    return KiteConfig.from_mapping(kite_settings(x, i, **overrides))


def dhan_config(x: PaperExchange, i: int = 0, **overrides) -> DhanConfig:
    return DhanConfig.from_mapping(dhan_settings(x, i, **overrides))


def paper_catalog(x: PaperExchange) -> Catalog:
    return Catalog(x.engine.instruments.values())


def make_broker(kind: str, x: PaperExchange, i: int = 0, settings: dict | None = None, **kwargs):
    """A KiteBroker or DhanBroker for account `i`; `settings` override config values."""
    if kind == "kite":
        return KiteBroker(kite_config(x, i, **(settings or {})), **kwargs)
    return DhanBroker(dhan_config(x, i, **(settings or {})), paper_catalog(x), **kwargs)


def order(account: str = "PA0001", **fields) -> Order:
    values = dict(
        order_id=f"t{next(_tags)}x{id(fields) % 10000}",
        signal_id="s1",
        account=account,
        instrument="NSE:INFY",
        side="BUY",
        quantity=3,
    )
    values.update(fields)
    return Order(**values)


def acked(o: Order, ack: BrokerAck) -> Order:
    """`o` as the engine holds it once the broker acked it (modify and cancel need the id)."""
    return replace(o, status=OrderStatus.ACKED, broker_order_id=ack.broker_order_id)


def book_orders(x: PaperExchange, account: str = "PA0001", tag: str | None = None) -> list:
    return [o for o in x.engine.orders(account) if tag is None or o.tag == tag]


def requests_with_tag(x: PaperExchange, tag: str) -> list[dict]:
    return [r for r in x.recorder.requests if r.get("tag") == tag]


async def next_update(stream, broker_order_id: str, status, timeout: float = 10.0):
    """The first update of `broker_order_id` in `status` from an `order_updates()` stream."""

    async def scan():
        async for update in stream:
            if update.broker_order_id == broker_order_id and update.status == status:
                return update

    return await asyncio.wait_for(scan(), timeout)
