"""DataFrames and bars from ticks: receive-time index in IST, trader column names, gaps visible."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbexec.core.ticks import MODE_FULL, MODE_LTP, MODE_QUOTE, empty_ticks
from nbexec.feeds.frames import bars, to_frame
from nbexec.feeds.ring import TickRings

A, B = (408065, 1), (738561, 1)
NAMES = {A: "NSE:INFY", B: "NSE:RELIANCE"}
T0 = 1_750_000_000 * 10**9  # an exact second, in ns


def ticks(ids, prices, volumes=None, mode=MODE_QUOTE) -> np.ndarray:
    out = empty_ticks(len(ids))
    out["token"] = [t for t, _ in ids]
    out["segment"] = [s for _, s in ids]
    out["last_price"] = prices
    out["volume"] = volumes if volumes is not None else 0
    out["mode"] = mode
    return out


def test_frame_is_indexed_by_receive_time_in_india():
    rings = TickRings([A], capacity=8)
    rings.append(ticks([A], [1500.0]), received_ns=T0 + 5)
    frame = to_frame(rings, NAMES)
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "Asia/Kolkata"
    assert frame.index[0] == pd.Timestamp(T0 + 5, unit="ns", tz="UTC")
    assert frame.index.name == "received"


def test_frame_columns_are_in_trader_words_with_the_instrument_name():
    rings = TickRings([A, B], capacity=8)
    full = ticks([A], [1500.0], [100], mode=MODE_FULL)
    full["bid_price"][0] = [1499.95, 1499.9, 0, 0, 0]
    full["ask_price"][0, 0], full["bid_quantity"][0, 0], full["ask_quantity"][0, 0] = 1500.05, 7, 9
    full["last_trade_time"] = 1_750_000_000
    rings.append(full, received_ns=T0)
    rings.append(ticks([B], [2900.0], mode=MODE_LTP), received_ns=T0 + 1)
    frame = to_frame(rings, NAMES)
    assert frame["instrument"].tolist() == ["NSE:INFY", "NSE:RELIANCE"]
    assert frame["mode"].tolist() == ["full", "ltp"]
    row = frame.iloc[0]
    assert (row.last_price, row.bid, row.ask, row.bid_quantity, row.ask_quantity, row.volume) == (
        1500.0,
        1499.95,
        1500.05,
        7,
        9,
        100,
    )
    assert row.last_trade_time == pd.Timestamp(1_750_000_000, unit="s", tz="UTC")
    assert pd.isna(frame.iloc[1].last_trade_time)  # 0 = not sent
    assert {"open", "high", "low", "close", "average_price", "oi", "gap"} <= set(frame.columns)


def test_depth_columns_are_added_on_request():
    rings = TickRings([A], capacity=8)
    full = ticks([A], [1500.0], mode=MODE_FULL)
    full["ask_price"][0] = [1500.05, 1500.1, 1500.15, 1500.2, 1500.25]
    rings.append(full, received_ns=T0)
    frame = to_frame(rings, NAMES, depth=True)
    assert frame["ask_price_5"].iloc[0] == 1500.25 and "bid_orders_1" in frame.columns


def test_bars_are_ohlc_of_last_price_and_volume_from_the_cumulative_volume():
    rings = TickRings([A, B], capacity=64)
    second = 10**9
    rings.append(ticks([A, B], [100.0, 50.0], [1000, 10]), received_ns=T0)
    rings.append(ticks([A], [103.0], [1010]), received_ns=T0 + second // 2)
    rings.append(ticks([A], [99.0], [1025]), received_ns=T0 + 3 * second // 4)
    rings.append(ticks([A, B], [101.0, 51.0], [1040, 12]), received_ns=T0 + second)
    out = bars(rings, "1s", NAMES)
    infy = out[out["instrument"] == "NSE:INFY"]
    assert infy[["open", "high", "low", "close"]].values.tolist() == [[100, 103, 99, 99], [101, 101, 101, 101]]
    assert infy["volume"].tolist() == [25, 15]  # 1000 -> 1025 -> 1040
    assert infy["ticks"].tolist() == [3, 1]
    assert out[out["instrument"] == "NSE:RELIANCE"]["volume"].tolist() == [0, 2]
    assert out.index.is_monotonic_increasing and str(out.index.tz) == "Asia/Kolkata"


def test_ltp_ticks_add_price_but_no_volume():
    rings = TickRings([A], capacity=8)
    rings.append(ticks([A], [100.0], [500]), received_ns=T0)
    rings.append(ticks([A], [101.0], mode=MODE_LTP), received_ns=T0 + 1)
    rings.append(ticks([A], [102.0], [520]), received_ns=T0 + 2)
    out = bars(rings, "1s", NAMES)
    assert out["high"].tolist() == [102.0] and out["volume"].tolist() == [20]


def test_the_bar_after_a_reconnect_is_marked_as_a_gap():
    rings = TickRings([A], capacity=8)
    rings.append(ticks([A], [100.0], [10]), received_ns=T0)
    rings.mark_gap()
    rings.append(ticks([A], [101.0], [30]), received_ns=T0 + 5 * 10**9)
    out = bars(rings, "1s", NAMES)
    assert out["gap"].tolist() == [False, True]
    assert to_frame(rings, NAMES)["gap"].tolist() == [False, True]


def test_bars_accept_a_frame_and_empty_input_gives_empty_frames():
    rings = TickRings([A], capacity=8)
    assert to_frame(rings, NAMES).empty and bars(rings, "1s", NAMES).empty
    rings.append(ticks([A], [100.0], [10]), received_ns=T0)
    assert bars(to_frame(rings, NAMES), "5s")["close"].tolist() == [100.0]
