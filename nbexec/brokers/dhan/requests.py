"""Dhan v2 order requests: per-account templates and fast JSON bodies. Pure.

`DhanRequests` is built once per account at start: place `POST /orders`, modify
`PUT /orders/{id}`, cancel `DELETE /orders/{id}` (under the base's `/v2`), with the
`access-token` and `client-id` headers serialized once. A place body is one string format
into a pattern that already holds this account's `dhanClientId`, plus a cached
`"exchangeSegment":..,"securityId":".."` per instrument (from the `Catalog`), then one ASCII
encode. Keys as the SDK sends them (docs/protocols/dhan.md, Place: the JSON keys nbexec
sends): transactionType, exchangeSegment, productType (CNC / INTRADAY / MARGIN for CNC / MIS /
NRML), orderType (LIMIT / MARKET / STOP_LOSS / STOP_LOSS_MARKET), validity, securityId (a
string), quantity, disclosedQuantity, price, triggerPrice, afterMarketOrder, correlationId
(= the order's tag), dhanClientId.
"""

from __future__ import annotations

import json

from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from nbexec.core.orders import Order, OrderType, Product

from ..settings import Endpoint
from .config import DhanConfig

JSON = "application/json"
PRODUCT = {Product.CNC: "CNC", Product.MIS: "INTRADAY", Product.NRML: "MARGIN"}
ORDER_TYPE = {
    OrderType.LIMIT: "LIMIT",
    OrderType.MARKET: "MARKET",
    OrderType.SL: "STOP_LOSS",
    OrderType.SL_M: "STOP_LOSS_MARKET",
}
# Prices the order type does not use travel as 0.0, as the SDK sends them.
_USES_PRICE = frozenset({OrderType.LIMIT, OrderType.SL})
_USES_TRIGGER = frozenset({OrderType.SL, OrderType.SL_M})


def headers(config: DhanConfig) -> dict:
    return {"access-token": config.access_token, "client-id": config.client_id, "Accept": JSON}


class DhanRequests:
    """One account's order templates and body builders (safe to share between tasks)."""

    def __init__(self, config: DhanConfig, endpoint: Endpoint, catalog: Catalog) -> None:
        auth = headers(config)
        self.client_id = config.client_id
        self.catalog = catalog
        self.place = endpoint.template("POST", "/orders", auth, content_type=JSON)
        self.modify = endpoint.template("PUT", "/orders/", auth, content_type=JSON)
        self.cancel = endpoint.template("DELETE", "/orders/", auth, content_type=None)
        self._pattern = (
            '{"dhanClientId":"' + config.client_id + '","correlationId":"%s","transactionType":"%s",'
            '%s,"productType":"%s","orderType":"%s","validity":"%s","quantity":%d,'
            '"disclosedQuantity":0,"price":%r,"triggerPrice":%r,"afterMarketOrder":false}'
        )
        self._instruments: dict[str, str] = {}

    def _instrument(self, key: str) -> str:
        fragment = self._instruments.get(key)
        if fragment is None:
            instrument = self.catalog.get(key)
            if instrument is None:
                raise ValidationError("instrument", key, "has no Dhan security id in the catalog")
            if not instrument.tradable:
                raise ValidationError("instrument", key, "an index cannot be traded")
            fragment = self._instruments[key] = (
                f'"exchangeSegment":"{instrument.dhan_segment}","securityId":"{instrument.security_id}"'
            )
        return fragment

    def place_body(self, order: Order) -> bytes:
        """The JSON body of `POST /orders` for `order` (correlationId = `order.tag`)."""
        kind = order.order_type
        return (
            self._pattern
            % (
                order.tag,
                order.side.value,
                self._instrument(order.instrument),
                PRODUCT[order.product],
                ORDER_TYPE[kind],
                order.validity.value,
                order.quantity,
                order.price if kind in _USES_PRICE else 0.0,
                order.trigger_price if kind in _USES_TRIGGER else 0.0,
            )
        ).encode("ascii")

    def modify_body(self, order: Order, changed: frozenset[str] | set[str]) -> bytes:
        """Dhan wants the whole order back: every field of the already modified `order`."""
        kind = order.order_type
        return json.dumps(
            {
                "dhanClientId": self.client_id,
                "orderId": order.broker_order_id,
                "orderType": ORDER_TYPE[kind],
                "legName": None,
                "quantity": order.quantity,
                "price": order.price if kind in _USES_PRICE else 0.0,
                "disclosedQuantity": 0,
                "triggerPrice": order.trigger_price if kind in _USES_TRIGGER else 0.0,
                "validity": order.validity.value,
            },
            separators=(",", ":"),
        ).encode("ascii")

    @staticmethod
    def order_path(broker_order_id: str) -> bytes:
        """The path suffix naming an order (modify, cancel)."""
        if not broker_order_id.isdigit():
            raise ValidationError("broker_order_id", broker_order_id, "a Dhan orderId is all digits")
        return broker_order_id.encode("ascii")
