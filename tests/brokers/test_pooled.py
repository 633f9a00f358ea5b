"""What PooledBroker gives every adapter beyond the order path: the default tag lookup."""

from __future__ import annotations

import pytest

from nbexec.brokers.pooled import PooledBroker
from nbexec.brokers.types import BrokerOrder
from nbexec.core.states import OrderStatus


class BookOnly(PooledBroker):
    """A broker whose only working call is `orders()`."""

    name = "book"

    def __init__(self, book: list[BrokerOrder]) -> None:
        self.account, self.book = "A1", book

    async def orders(self):
        return self.book

    _requests = _update_source = instruments = None


def order(broker_id: str, tag: str, status=OrderStatus.ACKED) -> BrokerOrder:
    return BrokerOrder(broker_id, tag, status)


async def test_order_by_tag_finds_the_tagged_order_in_the_book():
    broker = BookOnly([order("1", "aaa"), order("2", "bbb")])
    assert (await broker.order_by_tag("bbb")).broker_order_id == "2"


async def test_order_by_tag_is_none_when_the_broker_never_got_it():
    assert await BookOnly([order("1", "aaa")]).order_by_tag("zzz") is None


def test_pooled_broker_is_abstract():
    with pytest.raises(TypeError):
        PooledBroker()
