"""Kite order requests: exact form bodies per order type, templates, validation before sending."""

from __future__ import annotations

from urllib.parse import parse_qsl

import numpy as np
import pytest

from nbexec.brokers.kite.config import KiteConfig
from nbexec.brokers.kite.requests import KiteRequests
from nbexec.brokers.order_fields import modified
from nbexec.brokers.settings import Endpoint
from nbexec.core.errors import ValidationError
from nbexec.core.orders import Order

CONFIG = KiteConfig.from_mapping({"api_key": "key1", "access_token": "tok1secret", "root": "http://127.0.0.1:8000"})


def requests() -> KiteRequests:
    return KiteRequests(CONFIG, Endpoint.parse(CONFIG.root, keep_path=False))


def order(**fields) -> Order:
    values = dict(order_id="abc123", signal_id="s", account="a", instrument="NSE:INFY", side="BUY", quantity=5)
    values.update(fields)
    return Order(**values)


def test_a_market_order_body_is_exactly_kites_form():
    body = requests().place_body(order())
    assert body == (
        b"tradingsymbol=INFY&exchange=NSE&transaction_type=BUY&quantity=5&product=MIS"
        b"&order_type=MARKET&validity=DAY&tag=abc123&market_protection=-1"
    )


@pytest.mark.parametrize(
    "fields,expected",
    [
        (dict(order_type="LIMIT", price=1500.25), {"order_type": "LIMIT", "price": "1500.25"}),
        (
            dict(order_type="SL", price=1490.0, trigger_price=1495.5, side="SELL"),
            {"order_type": "SL", "price": "1490.0", "trigger_price": "1495.5", "transaction_type": "SELL"},
        ),
        (
            dict(order_type="SL-M", trigger_price=1510.0, product="CNC", validity="IOC"),
            {
                "order_type": "SL-M",
                "trigger_price": "1510.0",
                "product": "CNC",
                "validity": "IOC",
                "market_protection": "-1",
            },
        ),
    ],
)
def test_each_order_type_sends_exactly_its_fields(fields, expected):
    form = dict(parse_qsl(requests().place_body(order(**fields)).decode()))
    for key, value in expected.items():
        assert form[key] == value
    sent = {"LIMIT": {"price"}, "SL": {"price", "trigger_price"}, "SL-M": {"trigger_price", "market_protection"}}
    assert {"price", "trigger_price", "market_protection"} & set(form) == sent[fields["order_type"]]


def test_symbols_are_url_encoded():
    form = dict(parse_qsl(requests().place_body(order(instrument="NSE:M&M")).decode()))
    assert form["tradingsymbol"] == "M&M" and form["exchange"] == "NSE"


def test_templates_carry_the_authorization_but_never_show_it():
    r = requests()
    wire = r.place.render(b"x=1")
    assert wire.startswith(b"POST /orders/regular HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")
    assert b"Authorization: token key1:tok1secret\r\n" in wire and b"X-Kite-Version: 3" in wire
    assert b"Content-Type: application/x-www-form-urlencoded" in wire
    assert "tok1secret" not in repr(r.place)
    assert r.cancel.render(b"", r.order_path("2411")).startswith(b"DELETE /orders/regular/2411 HTTP/1.1")


def test_a_modify_sends_only_the_changed_fields():
    new = modified(order(order_type="LIMIT", price=1500.0), {"price": 1501.0, "quantity": 7})
    assert dict(parse_qsl(requests().modify_body(new, {"price", "quantity"}).decode())) == {
        "price": "1501.0",
        "quantity": "7",
    }


@pytest.mark.parametrize(
    "build,field",
    [
        (lambda r: r.place_body(order(instrument="INDICES:NIFTY 50")), "instrument"),
        (lambda r: r.place_body(order(order_type="LIMIT", price=float("inf"))), "price"),
        (lambda r: r.order_path("12/../34"), "broker_order_id"),
        (lambda r: modified(order(), {"quantity": 0}), "quantity"),
        (lambda r: modified(order(), {"product": "CNC"}), "changes"),
    ],
)
def test_bad_input_names_the_field(build, field):
    with pytest.raises(ValidationError) as err:
        build(requests())
    assert err.value.field == field


def test_numpy_prices_go_out_as_plain_numbers():
    """A price taken from a DataFrame is a NumPy scalar, whose repr is `np.float64(...)`."""
    body = requests().place_body(order(order_type="SL", price=np.float64(1500.5), trigger_price=np.int64(1499)))
    fields = dict(parse_qsl(body.decode()))
    assert (fields["price"], fields["trigger_price"]) == ("1500.5", "1499.0")
