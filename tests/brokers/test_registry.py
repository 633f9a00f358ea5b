"""The broker registry: a route's broker name -> the factory that builds its adapter and feed."""

from __future__ import annotations

import pytest

from nbexec.brokers import registry
from nbexec.brokers.base import OrderRoute
from nbexec.brokers.dhan.adapter import DhanBroker
from nbexec.brokers.dhan.market_feed import DhanFeedClient
from nbexec.brokers.kite.adapter import KiteBroker
from nbexec.brokers.kite.market_feed import KiteTickerClient
from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.feeds.feed import Feed

INFY = Instrument("NSE", "INFY", 1594, dhan_security_id=1594)
SETTINGS = {
    "kite": {"api_key": "key1", "access_token": "tok", "account": "A1", "ws_url": "ws://h:1/kite/ws"},
    "dhan": {"client_id": "1100000001", "access_token": "tok", "account": "A1", "feed_ws_url": "ws://h:1/dhan/feed"},
}


def test_an_unknown_broker_is_refused_naming_the_field_and_the_known_brokers():
    with pytest.raises(ValidationError) as info:
        registry.factory("ibkr", "accounts[0].routes[0].broker")
    assert info.value.field == "accounts[0].routes[0].broker" and info.value.value == "ibkr"
    assert "'kite'" in str(info.value) and "'dhan'" in str(info.value)


@pytest.mark.parametrize("name", [None, ["kite"], "Kite"])
def test_anything_but_a_known_name_is_refused_under_the_default_field(name):
    with pytest.raises(ValidationError) as info:
        registry.factory(name)
    assert info.value.field == "broker"


def test_every_broker_is_listed_under_its_own_name():
    assert registry.NAMES == ("kite", "dhan")
    assert all(registry.factory(name).name == name for name in registry.NAMES)


@pytest.mark.parametrize("name, adapter", [("kite", KiteBroker), ("dhan", DhanBroker)])
async def test_each_name_builds_its_adapter_as_an_order_route(name, adapter):
    route = registry.factory(name).route(SETTINGS[name], Catalog([INFY]))
    assert type(route) is adapter and isinstance(route, OrderRoute)
    assert route.name == name and route.account == "A1"


@pytest.mark.parametrize("name, client", [("kite", KiteTickerClient), ("dhan", DhanFeedClient)])
def test_each_name_builds_a_feed_around_its_market_feed_client(name, client):
    feed = registry.factory(name).feed(SETTINGS[name], [INFY], "full")
    assert isinstance(feed, Feed) and type(feed.client) is client
    assert feed.client.url in SETTINGS[name].values()  # the broker's market-data URL setting
    assert list(feed.instruments) == ["NSE:INFY"] and list(feed.client.modes.values()) == ["full"]
    assert not feed.client.connected
