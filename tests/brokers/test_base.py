"""The Broker interface's shared parts: modify validation and the default tag lookup."""

from __future__ import annotations

import pytest

from nbexec.brokers.base import Broker, check_changes
from nbexec.brokers.types import BrokerOrder
from nbexec.core.errors import ValidationError
from nbexec.core.states import OrderStatus


class BookOnly(Broker):
    """A broker whose only working call is `orders()`."""

    name = "book"

    def __init__(self, book: list[BrokerOrder]) -> None:
        self.account, self.book = "A1", book

    async def orders(self):
        return self.book

    start = close = place = modify = cancel = order_by_id = trades = positions = funds = instruments = None
    order_updates = None


def order(broker_id: str, tag: str, status=OrderStatus.ACKED) -> BrokerOrder:
    return BrokerOrder(broker_id, tag, status)


async def test_order_by_tag_finds_the_tagged_order_in_the_book():
    broker = BookOnly([order("1", "aaa"), order("2", "bbb")])
    assert (await broker.order_by_tag("bbb")).broker_order_id == "2"


async def test_order_by_tag_is_none_when_the_broker_never_got_it():
    assert await BookOnly([order("1", "aaa")]).order_by_tag("zzz") is None


def test_modify_changes_must_be_known_fields():
    with pytest.raises(ValidationError):
        check_changes({"quantity": 5, "side": "SELL"})


def test_modify_needs_at_least_one_change():
    with pytest.raises(ValidationError):
        check_changes({})


def test_broker_is_abstract():
    with pytest.raises(TypeError):
        Broker()
