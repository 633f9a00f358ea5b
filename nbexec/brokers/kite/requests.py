"""Kite Connect v3 order requests: per-account templates and fast form bodies. Pure.

`KiteRequests` is built once per account at start: the three `RequestTemplate`s (place
`POST /orders/regular`, modify `PUT /orders/regular/{id}`, cancel `DELETE /orders/regular/{id}`)
hold the serialized head with the `Authorization: token <api_key>:<access_token>` header.
A place body is one string format into a per-order-type pattern plus a cached, URL-encoded
`tradingsymbol=..&exchange=..&` per instrument, then one ASCII encode: no dict, no urlencode,
no per-field object. Fields sent (docs/protocols/kite.md, Place: the form fields nbexec sends):
tradingsymbol, exchange, transaction_type, quantity, product, order_type, price (LIMIT, SL),
trigger_price (SL, SL-M), validity, tag, market_protection (MARKET, SL-M). Bad input raises
`ValidationError` naming the field before any byte exists.
"""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import parse_instrument_key
from nbexec.core.orders import Order, OrderType
from nbexec.core.secrets import Secret

from ..settings import Endpoint
from .config import KiteConfig

FORM = "application/x-www-form-urlencoded"
VARIETY = "regular"
_COMMON = "transaction_type=%s&quantity=%d&product=%s&order_type="
_TAIL = "&validity=%s&tag=%s"
# one pattern per order type: exactly the fields that type uses
PLACE_PATTERNS = {
    OrderType.MARKET: "%s" + _COMMON + "MARKET" + _TAIL + "&market_protection=%d",
    OrderType.LIMIT: "%s" + _COMMON + "LIMIT&price=%r" + _TAIL,
    OrderType.SL: "%s" + _COMMON + "SL&price=%r&trigger_price=%r" + _TAIL,
    OrderType.SL_M: "%s" + _COMMON + "SL-M&trigger_price=%r" + _TAIL + "&market_protection=%d",
}


def headers(config: KiteConfig) -> dict:
    """What every authenticated Kite request carries (the token stays a `Secret` in templates)."""
    token = config.require_token()
    return {"X-Kite-Version": "3", "Authorization": Secret(f"token {config.api_key}:{token.reveal()}")}


class KiteRequests:
    """One account's order templates and body builders (safe to share between tasks)."""

    def __init__(self, config: KiteConfig, endpoint: Endpoint) -> None:
        auth = headers(config)
        self.market_protection = config.market_protection
        self.place = endpoint.template("POST", f"/orders/{VARIETY}", auth, content_type=FORM)
        self.modify = endpoint.template("PUT", f"/orders/{VARIETY}/", auth, content_type=FORM)
        self.cancel = endpoint.template("DELETE", f"/orders/{VARIETY}/", auth, content_type=None)
        self._instruments: dict[str, str] = {}

    def _instrument(self, key: str) -> str:
        prefix = self._instruments.get(key)
        if prefix is None:
            exchange, symbol = parse_instrument_key(key)
            if exchange == "INDICES":
                raise ValidationError("instrument", key, "an index cannot be traded")
            prefix = self._instruments[key] = f"tradingsymbol={quote_plus(symbol)}&exchange={exchange}&"
        return prefix

    def place_body(self, order: Order) -> bytes:
        """The form body of `POST /orders/regular` for `order` (tagged with `order.tag`)."""
        # `_value_`, not `.value`: the enum's `.value` is a property, dearer than the attribute.
        head = (self._instrument(order.instrument), order.side._value_, order.quantity, order.product._value_)
        kind, validity = order.order_type, order.validity._value_
        args: tuple[object, ...]  # the pattern's values, by order type
        if kind is OrderType.MARKET:
            args = head + (validity, order.tag, self.market_protection)
        elif kind is OrderType.LIMIT:
            args = head + (order.price, validity, order.tag)
        elif kind is OrderType.SL:
            args = head + (order.price, order.trigger_price, validity, order.tag)
        else:
            args = head + (order.trigger_price, validity, order.tag, self.market_protection)
        return (PLACE_PATTERNS[kind] % args).encode("ascii")

    def modify_body(self, order: Order, changed: frozenset[str] | set[str]) -> bytes:
        """The form body of a modify: the `changed` fields of the already modified `order`."""
        fields = {
            "quantity": order.quantity,
            "price": order.price,
            "trigger_price": order.trigger_price,
            "order_type": order.order_type.value,
            "validity": order.validity.value,
        }
        if order.order_type in (OrderType.MARKET, OrderType.SL_M) and "order_type" in changed:
            fields["market_protection"] = self.market_protection
            changed = set(changed) | {"market_protection"}
        return urlencode([(k, v) for k, v in fields.items() if k in changed]).encode("ascii")

    @staticmethod
    def order_path(broker_order_id: str) -> bytes:
        """The path suffix naming an order (modify, cancel)."""
        if not broker_order_id.isalnum():
            raise ValidationError("broker_order_id", broker_order_id, "must be letters and digits")
        return broker_order_id.encode("ascii")
