"""Dhan feed packets: the paper exchange's encoders and our decoder against the example packet of
docs/protocols/dhan.md (Binary packets) and dhanhq's parser (the encoders are the paper's own
copy, so each side checks the other)."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import numpy as np
import pytest
from dhanhq import MarketFeed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbexec.brokers.dhan.ticks import decode_feed_packets, decode_packets, disconnect_reason, lone_row
from nbexec.core.errors import ValidationError
from nbexec.core.market import DepthLevel, Quote
from nbexec.core.ticks import MODE_FULL, MODE_LTP, MODE_QUOTE, TICK_DTYPE
from nbexec.paper.dhan.ticks import (
    encode_disconnect,
    encode_full,
    encode_market_status,
    encode_oi,
    encode_prev_close,
    encode_quote,
    encode_ticker,
)
from tests.fixtures.examples import examples

TICKER_VECTOR = bytes.fromhex("02 10 00 01 35 05 00 00 33 8b c9 44 00 f1 53 65")
U32 = 0xFFFF_FFFF


@pytest.fixture(scope="module")
def official() -> MarketFeed:
    """dhanhq's parser without its socket or event loop.

    `MarketFeed.__init__` creates and installs a new asyncio loop; the parsing methods
    (`process_data` and the `process_*` it dispatches to) read no instance state, so a bare
    instance runs the SDK's real parsing code and leaves the test's loop alone.
    """
    return MarketFeed.__new__(MarketFeed)


def f32(value: float) -> float:
    """The float32 value a price becomes on the wire, as the SDK's struct unpacking sees it."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def utc_hms(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S")


# -- the example packet of docs/protocols/dhan.md, Binary packets ------------------------
def test_ticker_vector_is_what_the_encoder_produces():
    quote = Quote(last_price=1612.35, last_trade_time=1700000000)
    assert encode_ticker(1, 1333, quote) == TICKER_VECTOR


def test_ticker_vector_parses_in_the_sdk_to_the_intended_values(official):
    assert official.process_data(TICKER_VECTOR) == {
        "type": "Ticker Data",
        "exchange_segment": 1,
        "security_id": 1333,
        "LTP": "1612.35",
        "LTT": "22:13:20",
    }


def test_ticker_vector_decodes_to_the_float32_price():
    (row,) = decode_packets(TICKER_VECTOR)
    assert (row["token"], row["segment"], row["mode"], row["tradable"]) == (1333, 1, MODE_LTP, True)
    assert row["last_price"] == 1612.3499755859375
    assert row["last_trade_time"] == 1700000000


# -- several packets in one message --------------------------------------------------------
QUOTE = Quote(
    last_price=1612.35,
    last_quantity=10,
    average_price=1612.1,
    volume=1000,
    total_buy_quantity=6,
    total_sell_quantity=5,
    open=1600.0,
    high=1620.0,
    low=1590.0,
    close=1610.0,
    last_trade_time=1700000000,
    oi=7,
    oi_day_high=8,
    oi_day_low=9,
    bids=tuple(DepthLevel(1612.3 - i * 0.05, 1 + i, 3) for i in range(5)),
    asks=tuple(DepthLevel(1612.4 + i * 0.05, 2, 4) for i in range(5)),
)


def test_concatenated_packets_decode_like_each_packet_alone():
    packets = [
        encode_full(1, 1333, QUOTE),
        encode_quote(2, 5, QUOTE),
        encode_ticker(0, 13, QUOTE),
        encode_full(2, 7, QUOTE),
        encode_ticker(1, 14, QUOTE),
    ]
    together = decode_packets(b"".join(packets))
    alone = np.concatenate([decode_packets(p) for p in packets])
    assert (together == alone).all()
    assert together["token"].tolist() == [1333, 5, 13, 7, 14]


def test_non_tick_packets_are_left_out_of_the_ticks():
    message = b"".join(
        [
            encode_prev_close(1, 1333, 1600.0, 5),
            encode_quote(1, 1333, QUOTE),
            encode_oi(2, 5, 70),
            encode_market_status(),
            encode_disconnect(807),
        ]
    )
    rows = decode_packets(message)
    assert rows["mode"].tolist() == [MODE_QUOTE]
    for lone in (encode_prev_close(1, 1333, 1600.0, 5), encode_oi(2, 5, 70), encode_disconnect(807)):
        assert len(decode_packets(lone)) == 0 and len(decode_feed_packets(lone)) == 0 and lone_row(lone) is None


def test_index_segment_ticks_are_not_tradable():
    assert decode_packets(encode_ticker(0, 13, QUOTE))["tradable"].tolist() == [False]


def test_a_trailing_partial_packet_is_ignored():
    full = encode_full(1, 1333, QUOTE)
    rows = decode_packets(full + full[:40])
    assert len(rows) == 1 and rows["mode"][0] == MODE_FULL


def test_a_packet_of_unknown_code_is_skipped_by_its_length_field():
    unknown = struct.pack("<BHBI", 1, 12, 0, 13) + b"\x00" * 4  # code 1 (index): unparsed by the SDK
    rows = decode_packets(unknown + encode_ticker(1, 1333, QUOTE))
    assert rows["token"].tolist() == [1333]


def test_empty_buffer_decodes_to_no_ticks():
    rows = decode_packets(b"")
    assert rows.dtype == TICK_DTYPE and len(rows) == 0


# -- disconnect ----------------------------------------------------------------------------
def test_disconnect_reason_is_read_from_a_disconnect_packet():
    assert disconnect_reason(encode_disconnect(807)) == 807


def test_disconnect_reason_is_found_after_other_packets():
    assert disconnect_reason(encode_ticker(1, 1333, QUOTE) + encode_disconnect(805)) == 805


def test_disconnect_reason_is_none_without_a_disconnect_packet():
    assert disconnect_reason(encode_full(1, 1333, QUOTE)) is None


def test_disconnect_packet_has_the_documented_layout():
    assert encode_disconnect(810) == struct.pack("<BHBIH", 50, 10, 0, 0, 810)


# -- the other packets read back by the SDK ------------------------------------------------
def test_prev_close_packet_reads_back_in_the_sdk(official):
    parsed = official.process_data(encode_prev_close(2, 35001, 101.25, 123456))
    assert (parsed["exchange_segment"], parsed["security_id"]) == (2, 35001)
    assert (parsed["prev_close"], parsed["prev_OI"]) == ("101.25", 123456)


def test_oi_packet_reads_back_in_the_sdk(official):
    parsed = official.process_data(encode_oi(2, 35001, 987654))
    assert (parsed["exchange_segment"], parsed["security_id"], parsed["OI"]) == (2, 35001, 987654)


def test_market_status_packet_reads_back_in_the_sdk(official):
    assert official.process_data(encode_market_status(1, 1333)) == "Markets Open"


# -- encoder input errors ------------------------------------------------------------------
@pytest.mark.parametrize(
    "segment, security_id, quote, field",
    [
        (1, 1333, Quote(1.0, last_quantity=70_000), "last_quantity"),
        (1, -1, Quote(1.0), "security_id"),
        (256, 1333, Quote(1.0), "segment"),
        (1, 1333, Quote(float("nan")), "price"),
        (1, 1333, Quote(1.0, volume=U32 + 1), "volume"),
        (1, 1333, Quote(1.0, bids=(DepthLevel(1.0, 1, 1),) * 6), "bids"),
        (1, 1333, Quote(1.0, asks=(DepthLevel(1.0, 1, 70_000),)), "asks[0].orders"),
    ],
)
def test_values_the_sdk_cannot_read_are_rejected_naming_the_field(segment, security_id, quote, field):
    with pytest.raises(ValidationError) as error:
        encode_full(segment, security_id, quote)
    assert error.value.field == field


def test_disconnect_reason_beyond_u16_is_rejected():
    with pytest.raises(ValidationError):
        encode_disconnect(70_000)


# -- properties against the official parser ------------------------------------------------
SEGMENTS = [0, 1, 2, 3, 4, 5, 7, 8]
u32 = st.integers(0, U32)
# Prices on a 0.05 grid below 1 lakh: float32 keeps them within 0.004, so "%.2f" reads them back.
price = st.integers(0, 2_000_000).map(lambda ticks: ticks * 5 / 100)
level = st.builds(DepthLevel, price, u32, st.integers(0, 0xFFFF))
quotes = st.builds(
    Quote,
    last_price=price,
    last_quantity=st.integers(0, 0xFFFF),
    average_price=price,
    volume=u32,
    total_buy_quantity=u32,
    total_sell_quantity=u32,
    open=price,
    high=price,
    low=price,
    close=price,
    last_trade_time=u32,
    oi=u32,
    oi_day_high=u32,
    oi_day_low=u32,
    bids=st.lists(level, max_size=5).map(tuple),
    asks=st.lists(level, max_size=5).map(tuple),
)
ENCODERS = {"ticker": encode_ticker, "quote": encode_quote, "full": encode_full}
packets = st.tuples(st.sampled_from(sorted(ENCODERS)), st.sampled_from(SEGMENTS), u32, quotes)


def expected_sdk_packet(kind: str, segment: int, security_id: int, q: Quote) -> dict:
    """What dhanhq must return for this quote: "%.2f" prices and a UTC "HH:MM:SS" time."""
    head = {"exchange_segment": segment, "security_id": security_id, "LTP": f"{q.last_price:.2f}"}
    if kind == "ticker":
        return {"type": "Ticker Data", **head, "LTT": utc_hms(q.last_trade_time)}
    body = {
        **head,
        "LTQ": q.last_quantity,
        "LTT": utc_hms(q.last_trade_time),
        "avg_price": f"{q.average_price:.2f}",
        "volume": q.volume,
        "total_sell_quantity": q.total_sell_quantity,
        "total_buy_quantity": q.total_buy_quantity,
    }
    ohlc = {"open": f"{q.open:.2f}", "close": f"{q.close:.2f}", "high": f"{q.high:.2f}", "low": f"{q.low:.2f}"}
    if kind == "quote":
        return {"type": "Quote Data", **body, **ohlc}
    empty = DepthLevel(0.0, 0, 0)
    bids, asks = (side + (empty,) * (5 - len(side)) for side in (q.bids, q.asks))
    depth = [
        {
            "bid_quantity": b.quantity,
            "ask_quantity": a.quantity,
            "bid_orders": b.orders,
            "ask_orders": a.orders,
            "bid_price": f"{b.price:.2f}",
            "ask_price": f"{a.price:.2f}",
        }
        for b, a in zip(bids, asks, strict=True)
    ]
    return {
        "type": "Full Data",
        **body,
        "OI": q.oi,
        "oi_day_high": q.oi_day_high,
        "oi_day_low": q.oi_day_low,
        **ohlc,
        "depth": depth,
    }


def assert_row_matches_sdk(row: np.void, sdk: dict, packet: bytes) -> None:
    """Field by field: SDK strings against our floats formatted the same way, ints exactly."""
    assert (row["segment"], row["token"]) == (sdk["exchange_segment"], sdk["security_id"])
    assert row["tradable"] == (sdk["exchange_segment"] != 0)
    assert f"{row['last_price']:.2f}" == sdk["LTP"]
    assert row["last_price"] == struct.unpack_from("<f", packet, 8)[0]  # float32, not rounded
    assert utc_hms(int(row["last_trade_time"])) == sdk["LTT"]
    mode = {"Ticker Data": MODE_LTP, "Quote Data": MODE_QUOTE, "Full Data": MODE_FULL}[sdk["type"]]
    assert row["mode"] == mode
    carried = {"token", "segment", "tradable", "mode", "last_price", "last_trade_time"}
    if mode >= MODE_QUOTE:
        pairs = {
            "last_quantity": "LTQ",
            "volume": "volume",
            "total_buy_quantity": "total_buy_quantity",
            "total_sell_quantity": "total_sell_quantity",
        }
        prices = {"average_price": "avg_price", "open": "open", "high": "high", "low": "low", "close": "close"}
        if mode == MODE_FULL:
            pairs.update(oi="OI", oi_day_high="oi_day_high", oi_day_low="oi_day_low")
        for ours, theirs in pairs.items():
            assert row[ours] == sdk[theirs], ours
        for ours, theirs in prices.items():
            assert f"{row[ours]:.2f}" == sdk[theirs], ours
        carried |= set(pairs) | set(prices)
    if mode == MODE_FULL:
        for i, level in enumerate(sdk["depth"]):
            for key in ("bid_quantity", "ask_quantity", "bid_orders", "ask_orders"):
                assert row[key][i] == level[key], key
            for key in ("bid_price", "ask_price"):
                assert f"{row[key][i]:.2f}" == level[key], key
        carried |= {"bid_quantity", "ask_quantity", "bid_orders", "ask_orders", "bid_price", "ask_price"}
    for name in set(TICK_DTYPE.names) - carried:
        assert not np.any(row[name]), f"{name} should be 0"


PROPERTY = settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(packets)
def test_sdk_reads_back_exactly_the_values_encoded(official, packet):
    kind, segment, security_id, quote = packet
    parsed = official.process_data(ENCODERS[kind](segment, security_id, quote))
    assert parsed == expected_sdk_packet(kind, segment, security_id, quote)


@PROPERTY
@given(packets)
def test_decoder_agrees_with_sdk_on_each_packet(official, packet):
    kind, segment, security_id, quote = packet
    wire = ENCODERS[kind](segment, security_id, quote)
    (row,) = decode_packets(wire)
    assert_row_matches_sdk(row, official.process_data(wire), wire)
    assert decode_feed_packets(wire) == lone_row(wire) == row.tobytes()  # what a feed is given


@PROPERTY
@given(st.lists(packets, min_size=2, max_size=10))
def test_decoder_agrees_with_sdk_on_concatenated_packets(official, batch):
    wires = [ENCODERS[kind](segment, security_id, quote) for kind, segment, security_id, quote in batch]
    rows = decode_packets(b"".join(wires))
    assert len(rows) == len(wires)
    fed = decode_feed_packets(b"".join(wires))
    assert lone_row(b"".join(wires)) is None and isinstance(fed, np.ndarray) and fed.tobytes() == rows.tobytes()
    for row, wire in zip(rows, wires, strict=True):  # the SDK parses one packet per message: feed it each one
        assert_row_matches_sdk(row, official.process_data(wire), wire)
