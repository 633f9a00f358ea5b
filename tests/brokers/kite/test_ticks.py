"""Kite binary ticks: the paper exchange's encoder and our decoder against hand-made test vectors
(laid out as docs/protocols/kite.md, Binary messages, describes) and the official parser (the
encoder is the paper's own copy, so each side checks the other)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from nbexec.brokers.kite.ticks import decode_feed_message, decode_message, lone_row, price_divisor
from nbexec.core.errors import ValidationError
from nbexec.core.market import DepthLevel, Quote
from nbexec.core.ticks import MODE_FULL, MODE_LTP, MODE_NAMES, MODE_QUOTE, TICK_DTYPE
from nbexec.paper.kite.ticks import HEARTBEAT, encode_message, encode_packet
from tests.fixtures.examples import examples

U32 = 0xFFFF_FFFF
PRICE_FIELDS = {"last_price", "average_price", "open", "high", "low", "close"}

FULL_VECTOR = bytes.fromhex("""
00 01 00 b8 00 06 3a 01 00 02 4a 09 00 00 00 0a 00 02 4a 04 00 01 e2 40 00 00 03 e8 00 00 07 d0
00 02 49 a5 00 02 4a 6d 00 02 49 73 00 02 49 d7 65 53 f1 00 00 00 13 88 00 00 17 70 00 00 0f a0
65 53 f1 00 00 00 00 0a 00 02 4a 04 00 01 00 00 00 00 00 14 00 02 49 ff 00 02 00 00 00 00 00 1e
00 02 49 fa 00 03 00 00 00 00 00 28 00 02 49 f5 00 04 00 00 00 00 00 32 00 02 49 f0 00 05 00 00
00 00 00 14 00 02 4a 0e 00 01 00 00 00 00 00 28 00 02 4a 13 00 02 00 00 00 00 00 3c 00 02 4a 18
00 03 00 00 00 00 00 50 00 02 4a 1d 00 04 00 00 00 00 00 64 00 02 4a 22 00 05 00 00
""")
INFY = 408065
INFY_QUOTE = Quote(
    last_price=1500.25,
    last_quantity=10,
    average_price=1500.20,
    volume=123456,
    total_buy_quantity=1000,
    total_sell_quantity=2000,
    open=1499.25,
    high=1501.25,
    low=1498.75,
    close=1499.75,
    last_trade_time=1700000000,
    oi=5000,
    oi_day_high=6000,
    oi_day_low=4000,
    exchange_timestamp=1700000000,
    bids=tuple(
        DepthLevel(p, q, o)
        for p, q, o in [(1500.20, 10, 1), (1500.15, 20, 2), (1500.10, 30, 3), (1500.05, 40, 4), (1500.00, 50, 5)]
    ),
    asks=tuple(
        DepthLevel(p, q, o)
        for p, q, o in [(1500.30, 20, 1), (1500.35, 40, 2), (1500.40, 60, 3), (1500.45, 80, 4), (1500.50, 100, 5)]
    ),
)
NIFTY = 256265
NIFTY_LTP_VECTOR = bytes.fromhex("00 01 00 08 00 03 e9 09 00 21 91 f2")
CDS_TOKEN = (12345 << 8) | 3


@pytest.fixture(scope="module")
def official() -> KiteTicker:
    """An unconnected KiteTicker: `_parse_binary` is the SDK's own parser, no socket involved."""
    return KiteTicker("key", "token")


# -- helpers: one vocabulary for the SDK's dicts and our rows ------------------------------
def flatten_sdk(tick: dict) -> dict:
    """The SDK's tick dict in our field names (datetimes stay datetimes; `change` dropped)."""
    names = {
        "instrument_token": "token",
        "last_traded_quantity": "last_quantity",
        "average_traded_price": "average_price",
        "volume_traded": "volume",
    }
    flat = {names.get(k, k): v for k, v in tick.items() if k not in ("ohlc", "depth", "change")}
    flat.update(tick.get("ohlc", {}))
    for side, prefix in (("buy", "bid"), ("sell", "ask")):
        levels = tick.get("depth", {}).get(side)
        if levels is not None:
            for key in ("quantity", "price", "orders"):
                flat[f"{prefix}_{key}"] = [level[key] for level in levels]
    return flat


def row_as_sdk(row: np.void, keys) -> dict:
    """Our row, restricted to `keys`, in the SDK's value types."""
    out = {}
    for key in keys:
        value = row[key]
        if key == "mode":
            value = MODE_NAMES[int(value)]
        elif key in ("last_trade_time", "exchange_timestamp"):
            value = datetime.fromtimestamp(int(value))
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        else:
            value = value.item()
        out[key] = value
    return out


def assert_row_matches_sdk(row: np.void, sdk_tick: dict) -> None:
    flat = flatten_sdk(sdk_tick)
    assert row_as_sdk(row, flat) == flat
    assert row["segment"] == sdk_tick["instrument_token"] & 0xFF
    for name in set(TICK_DTYPE.names) - set(flat) - {"segment"}:
        assert not np.any(row[name]), f"{name} should be 0 for a {flat['mode']} packet"


def wire_quote(divisor: float, ints: dict, bids=(), asks=()) -> Quote:
    """A Quote whose prices are exact wire integers over `divisor`."""
    prices = {k: v / divisor for k, v in ints.items() if k in PRICE_FIELDS}
    others = {k: v for k, v in ints.items() if k not in prices}
    return Quote(
        **prices,
        **others,
        bids=tuple(DepthLevel(p / divisor, q, o) for p, q, o in bids),
        asks=tuple(DepthLevel(p / divisor, q, o) for p, q, o in asks),
    )


# -- test vectors (layouts in docs/protocols/kite.md, Binary messages) ---------------------
def test_full_vector_is_what_the_encoder_produces():
    assert encode_message([encode_packet(INFY, INFY_QUOTE, "full")]) == FULL_VECTOR


def test_full_vector_parses_in_the_sdk_to_the_intended_values(official):
    (tick,) = official._parse_binary(FULL_VECTOR)
    assert tick["last_price"] == 1500.25
    assert tick["ohlc"] == {"open": 1499.25, "high": 1501.25, "low": 1498.75, "close": 1499.75}
    assert tick["oi"] == 5000
    assert tick["depth"]["buy"][0] == {"quantity": 10, "price": 1500.2, "orders": 1}
    assert tick["depth"]["sell"][4] == {"quantity": 100, "price": 1500.5, "orders": 5}


def test_full_vector_decodes_to_the_intended_values():
    (row,) = decode_message(FULL_VECTOR)
    assert (row["token"], row["segment"], row["mode"], row["tradable"]) == (INFY, 1, MODE_FULL, True)
    assert (row["last_price"], row["last_quantity"], row["average_price"]) == (1500.25, 10, 1500.20)
    assert (row["volume"], row["total_buy_quantity"], row["total_sell_quantity"]) == (123456, 1000, 2000)
    assert (row["open"], row["high"], row["low"], row["close"]) == (1499.25, 1501.25, 1498.75, 1499.75)
    assert (row["last_trade_time"], row["exchange_timestamp"]) == (1700000000, 1700000000)
    assert (row["oi"], row["oi_day_high"], row["oi_day_low"]) == (5000, 6000, 4000)
    assert row["bid_price"].tolist() == [1500.20, 1500.15, 1500.10, 1500.05, 1500.00]
    assert row["ask_quantity"].tolist() == [20, 40, 60, 80, 100]
    assert row["bid_orders"].tolist() == [1, 2, 3, 4, 5]
    assert row["ask_orders"].tolist() == [1, 2, 3, 4, 5]


def test_full_vector_decodes_like_the_sdk(official):
    assert_row_matches_sdk(decode_message(FULL_VECTOR)[0], official._parse_binary(FULL_VECTOR)[0])


def test_nifty_ltp_vector_is_what_the_encoder_produces():
    assert encode_message([encode_packet(NIFTY, Quote(last_price=22000.5), "ltp")]) == NIFTY_LTP_VECTOR


def test_nifty_ltp_vector_reads_as_an_untradable_ltp_tick(official):
    (tick,) = official._parse_binary(NIFTY_LTP_VECTOR)
    assert tick == {"tradable": False, "mode": "ltp", "instrument_token": NIFTY, "last_price": 22000.5}
    (row,) = decode_message(NIFTY_LTP_VECTOR)
    assert (row["token"], row["mode"], row["tradable"], row["last_price"]) == (NIFTY, MODE_LTP, False, 22000.5)


def test_cds_prices_use_the_ten_million_divisor(official):
    packet = encode_packet(CDS_TOKEN, Quote(last_price=83.1234567), "ltp")
    assert packet[4:] == (831234567).to_bytes(4, "big")
    message = encode_message([packet])
    assert official._parse_binary(message)[0]["last_price"] == 83.1234567
    assert decode_message(message)[0]["last_price"] == 83.1234567


def test_bcd_and_nco_prices_use_the_ten_thousand_divisor():
    assert price_divisor(6) == price_divisor(12) == 10_000.0
    assert price_divisor(1) == price_divisor(9) == 100.0


# -- layouts -------------------------------------------------------------------------------
def test_packet_length_follows_mode_and_index_segment():
    quote = Quote(last_price=1.0)
    assert [len(encode_packet(INFY, quote, m)) for m in ("ltp", "quote", "full")] == [8, 44, 184]
    assert [len(encode_packet(NIFTY, quote, m)) for m in ("ltp", "quote", "full")] == [8, 28, 32]


def test_index_packets_carry_high_low_open_close_in_that_order():
    quote = Quote(last_price=5.0, open=1.0, high=2.0, low=3.0, close=4.0, exchange_timestamp=7)
    packet = encode_packet(NIFTY, quote, "full")
    words = [int.from_bytes(packet[i : i + 4], "big") for i in range(0, 32, 4)]
    assert words[:6] == [NIFTY, 500, 200, 300, 100, 400]
    assert words[7] == 7


def test_index_full_packet_decodes_like_the_sdk(official):
    message = encode_message(
        [
            encode_packet(
                NIFTY, Quote(22000.5, open=1.0, high=2.0, low=3.0, close=4.0, exchange_timestamp=1700000000), mode
            )
            for mode in ("quote", "full")
        ]
    )
    rows, ticks = decode_message(message), official._parse_binary(message)
    assert [r["mode"] for r in rows] == [MODE_QUOTE, MODE_FULL]
    for row, tick in zip(rows, ticks, strict=True):
        assert_row_matches_sdk(row, tick)


def test_encode_message_prefixes_count_and_each_length():
    assert encode_message([b"ab", b"cde"]) == b"\x00\x02\x00\x02ab\x00\x03cde"


# -- framing edge cases --------------------------------------------------------------------
def test_heartbeat_is_one_byte():
    assert HEARTBEAT == b"\x00"


@pytest.mark.parametrize("frame", [b"", HEARTBEAT, b"\x00\x01", b"\x00\x01\x00\x08"])
def test_frames_of_four_bytes_or_fewer_decode_to_no_ticks(frame):
    ticks = decode_message(frame)
    assert ticks.dtype == TICK_DTYPE and len(ticks) == 0


def test_packets_of_unknown_length_are_skipped_like_the_sdk(official):
    ltp = encode_packet(INFY, Quote(1.5), "ltp")
    message = encode_message([ltp, b"\x00" * 12, encode_packet(NIFTY, Quote(2.5), "ltp")])
    rows, ticks = decode_message(message), official._parse_binary(message)
    assert len(rows) == len(ticks) == 2
    assert rows["last_price"].tolist() == [1.5, 2.5]


def test_a_packet_cut_short_by_the_frame_end_is_dropped():
    message = encode_message([encode_packet(INFY, INFY_QUOTE, "full")] * 3)
    rows = decode_message(message[:-10])
    assert len(rows) == 2
    assert (rows == decode_message(message)[:2]).all()


def test_uniform_message_decodes_like_its_packets_one_by_one():
    packets = [encode_packet((n << 8) | 1, INFY_QUOTE, "full") for n in range(1, 50)]
    together = decode_message(encode_message(packets))
    one_by_one = np.concatenate([decode_message(encode_message([p])) for p in packets])
    assert (together == one_by_one).all()


def test_uniform_packets_decode_the_same_when_the_message_is_not_uniform():
    packets = [encode_packet((n << 8) | 1, INFY_QUOTE, "full") for n in range(1, 20)]
    uniform = decode_message(encode_message(packets))
    with_unknown = decode_message(encode_message([*packets, b"\x00" * 12]))
    assert (uniform == with_unknown).all()


def test_mixed_message_keeps_packet_order():
    modes = ["full", "ltp", "quote", "ltp", "full", "quote"]
    message = encode_message([encode_packet((n << 8) | 1, Quote(float(n)), m) for n, m in enumerate(modes, 1)])
    rows = decode_message(message)
    assert rows["token"].tolist() == [(n << 8) | 1 for n in range(1, 7)]
    assert [MODE_NAMES[m] for m in rows["mode"]] == modes


# -- encoder input errors ------------------------------------------------------------------
def test_unknown_mode_is_rejected():
    with pytest.raises(ValidationError) as error:
        encode_packet(INFY, Quote(1.0), "depth")
    assert error.value.field == "mode"


@pytest.mark.parametrize(
    "quote, field",
    [
        (Quote(last_price=-1.0), "last_price"),
        (Quote(last_price=float("nan")), "last_price"),
        (Quote(last_price=1.0, close=50_000_000.0), "close"),
        (Quote(last_price=1.0, volume=-5), "volume"),
        (Quote(last_price=1.0, oi=U32 + 1), "oi"),
        (Quote(last_price=1.0, bids=(DepthLevel(1.0, 1, 70_000),)), "bids[0].orders"),
        (Quote(last_price=1.0, asks=(DepthLevel(1.0, 1, 1),) * 6), "asks"),
    ],
)
def test_values_the_sdk_cannot_read_are_rejected_naming_the_field(quote, field):
    with pytest.raises(ValidationError) as error:
        encode_packet(INFY, quote, "full")
    assert error.value.field == field


def test_token_beyond_u32_is_rejected():
    with pytest.raises(ValidationError) as error:
        encode_packet(1 << 32 | 1, Quote(1.0), "ltp")
    assert error.value.field == "token"


# -- properties against the official parser ------------------------------------------------
SEGMENTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
u32 = st.integers(0, U32)
level = st.tuples(u32, u32, st.integers(0, 0xFFFF))  # (price int, quantity, orders)


@st.composite
def packets(draw) -> tuple[int, Quote, str, dict]:
    """(token, quote, mode, wire integers) with every price an exact wire integer / divisor."""
    segment = draw(st.sampled_from(SEGMENTS))
    token = draw(st.integers(0, (1 << 24) - 1)) << 8 | segment
    names = [
        "last_price",
        "last_quantity",
        "average_price",
        "volume",
        "total_buy_quantity",
        "total_sell_quantity",
        "open",
        "high",
        "low",
        "close",
        "last_trade_time",
        "oi",
        "oi_day_high",
        "oi_day_low",
        "exchange_timestamp",
    ]
    ints = {name: draw(u32) for name in names}
    bids = draw(st.lists(level, max_size=5))
    asks = draw(st.lists(level, max_size=5))
    quote = wire_quote(price_divisor(segment), ints, bids, asks)
    return token, quote, draw(st.sampled_from(["ltp", "quote", "full"])), dict(ints, bids=bids, asks=asks)


def expected_sdk_tick(token: int, mode: str, ints: dict) -> dict:
    """What the SDK must return for these wire integers, built independently of our decoder."""
    div = price_divisor(token & 0xFF)
    index = token & 0xFF == 9
    tick = {"tradable": not index, "mode": mode, "instrument_token": token, "last_price": ints["last_price"] / div}
    if mode == "ltp":
        return tick
    tick["ohlc"] = {k: ints[k] / div for k in ("open", "high", "low", "close")}
    close = tick["ohlc"]["close"]
    tick["change"] = (tick["last_price"] - close) * 100 / close if close else 0
    if index:
        if mode == "full":
            tick["exchange_timestamp"] = datetime.fromtimestamp(ints["exchange_timestamp"])
        return tick
    tick.update(
        last_traded_quantity=ints["last_quantity"],
        average_traded_price=ints["average_price"] / div,
        volume_traded=ints["volume"],
        total_buy_quantity=ints["total_buy_quantity"],
        total_sell_quantity=ints["total_sell_quantity"],
    )
    if mode == "quote":
        return tick
    tick.update(
        last_trade_time=datetime.fromtimestamp(ints["last_trade_time"]),
        oi=ints["oi"],
        oi_day_high=ints["oi_day_high"],
        oi_day_low=ints["oi_day_low"],
        exchange_timestamp=datetime.fromtimestamp(ints["exchange_timestamp"]),
    )
    pad = [(0, 0, 0)] * 5
    tick["depth"] = {
        side: [{"quantity": q, "price": p / div, "orders": o} for p, q, o in (levels + pad)[:5]]
        for side, levels in (("buy", ints["bids"]), ("sell", ints["asks"]))
    }
    return tick


PROPERTY = settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.lists(packets(), min_size=1, max_size=12))
def test_sdk_reads_back_exactly_the_values_encoded(official, batch):
    message = encode_message([encode_packet(token, quote, mode) for token, quote, mode, _ in batch])
    ticks = official._parse_binary(message)
    assert ticks == [expected_sdk_tick(token, mode, ints) for token, _, mode, ints in batch]


@PROPERTY
@given(st.lists(packets(), min_size=1, max_size=12))
def test_decoder_agrees_with_sdk_on_mixed_messages(official, batch):
    message = encode_message([encode_packet(token, quote, mode) for token, quote, mode, _ in batch])
    rows, ticks = decode_message(message), official._parse_binary(message)
    assert len(rows) == len(ticks) == len(batch)
    for row, tick in zip(rows, ticks, strict=True):
        assert_row_matches_sdk(row, tick)


@PROPERTY
@given(st.sampled_from(["ltp", "quote", "full"]), st.lists(packets(), min_size=1, max_size=20))
def test_decoder_agrees_with_sdk_on_single_mode_messages(official, mode, batch):
    message = encode_message([encode_packet(token, quote, mode) for token, quote, _, _ in batch if token & 0xFF != 9])
    rows, ticks = decode_message(message), official._parse_binary(message)
    assert len(rows) == len(ticks)
    for row, tick in zip(rows, ticks, strict=True):
        assert_row_matches_sdk(row, tick)


def test_message_of_only_unknown_packets_decodes_to_no_ticks(official):
    message = encode_message([b"\x01" * 12, b"\x02" * 20])
    assert official._parse_binary(message) == []
    assert len(decode_message(message)) == 0


@PROPERTY
@given(packets())
def test_a_lone_packet_decodes_like_the_same_packet_in_a_longer_message(packet):
    """A one-packet message takes the `struct` path; two packets take the vectorised one."""
    token, quote, mode, _ = packet
    wire = encode_packet(token, quote, mode)
    lone, pair = decode_message(encode_message([wire])), decode_message(encode_message([wire, wire]))
    assert len(lone) == 1 and len(pair) == 2
    assert lone[0] == pair[0] and lone[0] == pair[1]
    # what a feed is given: the lone packet as its row bytes, the pair as the array
    # (an LTP, quote or full packet; the shorter quote and full packets of an index take the array path)
    fed, both = decode_feed_message(encode_message([wire])), decode_feed_message(encode_message([wire, wire]))
    assert isinstance(fed, bytes) == (len(wire) in (8, 44, 184)) == (lone_row(encode_message([wire])) is not None)
    assert (fed if isinstance(fed, bytes) else fed.tobytes()) == pair[:1].tobytes()
    assert isinstance(both, np.ndarray) and both.tobytes() == pair.tobytes()
