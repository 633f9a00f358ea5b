"""Broker name -> its factory: how a route's `broker = "kite"` becomes objects.

The engine knows no broker by name: it asks `factory(route.broker)` for the adapter behind an
account route and for market data. A new broker is a package with a factory, listed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.feeds.connection import ReconnectPolicy
from nbexec.feeds.feed import Feed

from .base import OrderRoute
from .dhan.factory import DHAN
from .kite.factory import KITE


class BrokerFactory(Protocol):
    """What a broker package gives the engine, built from one route's settings: the broker's
    config fields, that is the route's settings with its secrets and the account id merged in."""

    @property
    def name(self) -> str:
        """The broker's name, as a route's `broker` gives it."""

    def route(self, settings: Mapping[str, Any], catalog: Catalog) -> OrderRoute:
        """The account's adapter, not started; `catalog` holds the instruments' broker ids."""

    def feed(
        self,
        settings: Mapping[str, Any],
        instruments: Iterable[Instrument],
        mode: str = "quote",
        *,
        capacity: int = ...,
        policy: ReconnectPolicy = ...,
    ) -> Feed:
        """Ticks of `instruments` over the broker's market-data socket, each subscribed in
        `mode`; not started."""


FACTORIES: Mapping[str, BrokerFactory] = MappingProxyType({f.name: f for f in (KITE, DHAN)})
NAMES = tuple(FACTORIES)


def factory(name: str, field: str = "broker") -> BrokerFactory:
    """The factory of broker `name`; `field` names where the name came from (for the error)."""
    if name not in NAMES:  # a tuple: an unhashable value from a config file is refused too
        raise ValidationError(field, name, f"must be one of {NAMES}")
    return FACTORIES[name]
