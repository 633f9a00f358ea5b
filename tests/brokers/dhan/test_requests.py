"""Dhan order requests: JSON bodies with the SDK's keys and types, accepted by the paper's parser."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbexec.brokers.dhan.config import DhanConfig
from nbexec.brokers.dhan.requests import DhanRequests
from nbexec.brokers.order_fields import modified
from nbexec.brokers.settings import Endpoint
from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.orders import Order
from nbexec.paper.dhan.wire import parse_modify, parse_place

CONFIG = DhanConfig.from_mapping(
    {"client_id": "1000000001", "access_token": "jwtsecret", "rest_base": "http://127.0.0.1:9000/v2"}
)
CATALOG = Catalog(
    [
        Instrument("NSE", "INFY", 1594),
        Instrument("NFO", "NIFTY-Dec2026-FUT", 35001, lot_size=75),
        Instrument("INDICES", "NIFTY 50", 1001, dhan_security_id=13),
    ]
)
SDK_KEYS = {
    "transactionType",
    "exchangeSegment",
    "productType",
    "orderType",
    "validity",
    "securityId",
    "quantity",
    "disclosedQuantity",
    "price",
    "triggerPrice",
    "afterMarketOrder",
    "correlationId",
    "dhanClientId",
}


def requests() -> DhanRequests:
    return DhanRequests(CONFIG, Endpoint.parse(CONFIG.rest_base), CATALOG)


def order(**fields) -> Order:
    values = dict(order_id="abc123", signal_id="s", account="a", instrument="NSE:INFY", side="BUY", quantity=5)
    values.update(fields)
    return Order(**values)


def test_a_market_order_body_has_the_sdks_keys_and_types():
    body = json.loads(requests().place_body(order()))
    assert SDK_KEYS <= set(body)
    assert body == {
        **body,
        "transactionType": "BUY",
        "exchangeSegment": "NSE_EQ",
        "productType": "INTRADAY",
        "orderType": "MARKET",
        "validity": "DAY",
        "securityId": "1594",
        "quantity": 5,
        "price": 0.0,
        "triggerPrice": 0.0,
        "afterMarketOrder": False,
        "correlationId": "abc123",
        "dhanClientId": "1000000001",
    }


@pytest.mark.parametrize(
    "fields,expected",
    [
        (
            dict(order_type="LIMIT", price=1500.25, product="CNC"),
            {"orderType": "LIMIT", "price": 1500.25, "triggerPrice": 0.0, "productType": "CNC"},
        ),
        (
            dict(order_type="SL", price=1490.0, trigger_price=1495.5, side="SELL", product="NRML"),
            {"orderType": "STOP_LOSS", "price": 1490.0, "triggerPrice": 1495.5, "productType": "MARGIN"},
        ),
        (
            dict(order_type="SL-M", trigger_price=1510.0, validity="IOC"),
            {"orderType": "STOP_LOSS_MARKET", "price": 0.0, "triggerPrice": 1510.0, "validity": "IOC"},
        ),
        (dict(instrument="NFO:NIFTY-Dec2026-FUT", quantity=75), {"exchangeSegment": "NSE_FNO", "securityId": "35001"}),
    ],
)
def test_each_order_type_maps_to_dhans_words_and_the_paper_accepts_it(fields, expected):
    raw = requests().place_body(order(**fields))
    body = json.loads(raw)
    assert {k: body[k] for k in expected} == expected
    parsed = parse_place(body, "1000000001")  # the paper exchange's own validation
    assert parsed.correlation_id == "abc123" and parsed.quantity == body["quantity"]


def test_templates_carry_the_token_but_never_show_it():
    r = requests()
    wire = r.place.render(b"{}")
    assert wire.startswith(b"POST /v2/orders HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n")
    assert b"access-token: jwtsecret\r\n" in wire and b"client-id: 1000000001\r\n" in wire
    assert "jwtsecret" not in repr(r.place) and "jwtsecret" not in repr(CONFIG)
    assert r.modify.render(b"{}", r.order_path("77")).startswith(b"PUT /v2/orders/77 HTTP/1.1")


def test_a_modify_sends_the_whole_order():
    new = modified(order(order_type="LIMIT", price=1500.0, broker_order_id="77"), {"price": 1501.0})
    body = json.loads(requests().modify_body(new, {"price"}))
    assert (body["orderId"], body["orderType"], body["price"], body["quantity"]) == ("77", "LIMIT", 1501.0, 5)
    assert parse_modify("77", body, "1000000001").price == 1501.0


@pytest.mark.parametrize(
    "build,field",
    [
        (lambda r: r.place_body(order(instrument="NSE:UNKNOWN")), "instrument"),
        (lambda r: r.place_body(order(instrument="INDICES:NIFTY 50")), "instrument"),
        (lambda r: r.place_body(order(order_type="SL-M", trigger_price=float("inf"))), "trigger_price"),
        (lambda r: r.order_path("12a"), "broker_order_id"),
    ],
)
def test_bad_input_names_the_field(build, field):
    with pytest.raises(ValidationError) as err:
        build(requests())
    assert err.value.field == field


def test_numpy_prices_go_out_as_plain_numbers():
    """A price taken from a DataFrame is a NumPy scalar, whose repr is `np.float64(...)`."""
    body = json.loads(
        requests().place_body(order(order_type="SL", price=np.float64(1500.5), trigger_price=np.int64(1499)))
    )
    assert (body["price"], body["triggerPrice"]) == (1500.5, 1499.0)
