"""Pure parts of the paper exchange's Dhan front end: request validation, error bodies,
feed requests, order-update login and the shared packet cache."""

from __future__ import annotations

import pytest

from nbexec.core.errors import OrderNotFound, RateLimited, ValidationError
from nbexec.core.market import Quote
from nbexec.paper.dhan import wire as w
from nbexec.paper.dhan import ws

CLIENT = "1000000001"
# Exactly what dhanhq 2.3.0 place_order() sends (docs/protocols/dhan.md, Place: the JSON keys).
SDK_PLACE_BODY = {
    "transactionType": "BUY",
    "exchangeSegment": "NSE_EQ",
    "productType": "INTRADAY",
    "orderType": "LIMIT",
    "validity": "DAY",
    "securityId": "1333",
    "quantity": 5,
    "disclosedQuantity": 0,
    "price": 1690.5,
    "afterMarketOrder": False,
    "boProfitValue": None,
    "boStopLossValue": None,
    "triggerPrice": 0.0,
    "correlationId": "corr1",
    "dhanClientId": CLIENT,
}


def test_sdk_place_body_maps_to_engine_terms():
    req = w.parse_place(dict(SDK_PLACE_BODY), CLIENT)
    assert (req.side, req.segment, req.security_id, req.quantity) == ("BUY", "NSE_EQ", 1333, 5)
    assert (req.order_type, req.product, req.price, req.correlation_id) == ("LIMIT", "MIS", 1690.5, "corr1")


def test_stop_loss_market_maps_to_sl_m():
    body = dict(SDK_PLACE_BODY, orderType="STOP_LOSS_MARKET", price=0.0, triggerPrice=1700.0)
    assert w.parse_place(body, CLIENT).order_type == "SL-M"


@pytest.mark.parametrize(
    "field,value",
    [
        ("transactionType", "HOLD"),
        ("exchangeSegment", "IDX_I"),
        ("productType", "BO"),
        ("orderType", "ICEBERG"),
        ("securityId", "13a3"),
        ("quantity", 0),
        ("quantity", "x"),
        ("price", -1),
        ("correlationId", "bad/char"),
        ("afterMarketOrder", True),
        ("dhanClientId", "999"),
    ],
)
def test_bad_place_field_is_named(field, value):
    with pytest.raises(ValidationError) as info:
        w.parse_place(dict(SDK_PLACE_BODY, **{field: value}), CLIENT)
    assert info.value.field == field


def test_limit_without_price_is_refused_on_price():
    with pytest.raises(ValidationError) as info:
        w.parse_place(dict(SDK_PLACE_BODY, price=0.0), CLIENT)
    assert info.value.field == "price"


def test_modify_keeps_absent_fields_unchanged():
    req = w.parse_modify(
        "42",
        {
            "orderId": "42",
            "orderType": "LIMIT",
            "legName": None,
            "quantity": 5,
            "price": 1691.0,
            "dhanClientId": CLIENT,
        },
        CLIENT,
    )
    assert (req.order_type, req.quantity, req.price, req.trigger_price, req.validity) == (
        "LIMIT",
        5,
        1691.0,
        None,
        None,
    )


def test_modify_refuses_an_order_id_that_differs_from_the_path():
    with pytest.raises(ValidationError) as info:
        w.parse_modify("42", {"orderId": "43"}, CLIENT)
    assert info.value.field == "orderId"


def test_quote_request_ignores_injected_client_id():
    assert w.parse_quote_request({"NSE_EQ": [1333, "11536"], "dhanClientId": CLIENT}) == [
        ("NSE_EQ", 1333),
        ("NSE_EQ", 11536),
    ]


def test_quote_request_names_an_unknown_segment():
    with pytest.raises(ValidationError) as info:
        w.parse_quote_request({"NSE_XX": [1]})
    assert info.value.field == "NSE_XX"


def test_engine_field_names_become_dhan_keys_in_errors():
    body = w.error_for(ValidationError("trigger_price", 0.0, "needs a trigger price"))[1]
    assert body["errorMessage"].startswith("Invalid triggerPrice:")


def test_error_bodies_carry_dhan_codes():
    assert w.error_for(ValidationError("quantity", 0, "must be at least 1")) == (
        400,
        {
            "errorType": "Input_Exception",
            "errorCode": "DH-905",
            "errorMessage": "Invalid quantity: must be at least 1 (got 0)",
        },
    )
    assert w.error_for(RateLimited("slow down"))[1]["errorCode"] == "DH-904"
    assert w.error_for(RateLimited("slow down"))[0] == 429
    assert w.error_for(OrderNotFound("no order 7"))[0] == 404


def test_feed_subscribe_message_of_the_sdk():
    req = ws.parse_feed_request(
        {
            "RequestCode": 21,
            "InstrumentCount": 2,
            "InstrumentList": [
                {"ExchangeSegment": "NSE_EQ", "SecurityId": "1333"},
                {"ExchangeSegment": "IDX_I", "SecurityId": "13"},
            ],
        }
    )
    assert (req.action, req.mode, req.instruments) == ("subscribe", "full", ((1, 1333), (0, 13)))


def test_feed_unsubscribe_and_disconnect_codes():
    request = {"RequestCode": 18, "InstrumentCount": 0, "InstrumentList": []}
    assert ws.parse_feed_request(request).action == "unsubscribe"
    assert ws.parse_feed_request({"RequestCode": 12}).action == "disconnect"


def test_feed_message_over_100_instruments_is_refused():
    items = [{"ExchangeSegment": "NSE_EQ", "SecurityId": str(i)} for i in range(101)]
    with pytest.raises(ValidationError) as info:
        ws.parse_feed_request({"RequestCode": 15, "InstrumentCount": 101, "InstrumentList": items})
    assert info.value.field == "InstrumentList"


def test_order_login_message_of_the_sdk():
    msg = {"LoginReq": {"MsgCode": 42, "ClientId": CLIENT, "Token": "tok"}, "UserType": "SELF"}
    assert ws.parse_order_login(msg) == (CLIENT, "tok")


def test_ist_time_format():
    assert w.ist_time(1700000000) == "2023-11-15 03:43:20"


def test_packet_cache_encodes_a_quote_once_per_mode():
    cache, quote = ws.PacketCache(), Quote(last_price=1612.35, last_trade_time=1700000000)
    first = cache.packet("ticker", (1, 1333), quote)
    assert cache.packet("ticker", (1, 1333), quote) is first
    # the example packet of docs/protocols/dhan.md, Binary packets
    assert first == bytes.fromhex("02 10 00 01 35 05 00 00 33 8b c9 44 00 f1 53 65")
    assert len(cache.packet("full", (1, 1333), quote)) == 162
