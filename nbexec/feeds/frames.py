"""Ticks as pandas, built on demand (never per tick): a tick DataFrame and OHLCV bars.

Time is the receive time: a `DatetimeIndex` named `received`, tz-aware in Asia/Kolkata, because
NSE/BSE sessions, expiries and a trader's notes are all in IST (`.tz_convert("UTC")` if you
need it). Exchange times, when the packet carries them, are the `last_trade_time` and
`exchange_timestamp` columns. Pure: NumPy and pandas, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from nbexec.core.ticks import DEPTH_LEVELS, MODE_NAMES

from .ring import RING_DTYPE, TickId, TickRings, tick_keys

TIMEZONE = "Asia/Kolkata"

# ring field -> column, in the order a trader reads them
_COLUMNS = {
    "last_price": "last_price",
    "last_quantity": "last_quantity",
    "volume": "volume",
    "average_price": "average_price",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "total_buy_quantity": "total_buy_quantity",
    "total_sell_quantity": "total_sell_quantity",
    "oi": "oi",
}
_TIMES = ("last_trade_time", "exchange_timestamp")  # Unix seconds, 0 = not sent
_MODE_CATEGORIES = list(MODE_NAMES.values())


def to_frame(
    source: TickRings | np.ndarray,
    names: Mapping[TickId, str] | None = None,
    *,
    depth: bool = False,
    last: int | None = None,
) -> pd.DataFrame:
    """A DataFrame of ticks, oldest first, indexed by receive time (Asia/Kolkata).

    `source`: rings (every instrument merged; `last` = newest N per instrument) or an array of
    `RING_DTYPE` rows. `names` maps (token, segment) to "EXCHANGE:SYMBOL" for an `instrument`
    column. Columns: instrument, mode, last_price, last_quantity, volume (cumulative for the
    day, as the exchange sends it), average_price, open/high/low/close (the day's), bid, ask,
    bid_quantity, ask_quantity (best level), oi, the times, and `gap` (ticks may be missing
    before this one). `depth=True` adds every level as bid_price_1 .. ask_orders_5.
    """
    rows = source.ticks(last=last) if isinstance(source, TickRings) else source
    if rows.dtype != RING_DTYPE:
        rows = rows.astype(RING_DTYPE)
    columns: dict[str, object] = {}
    if names is not None:
        columns["instrument"] = _instrument_names(rows, names)
    else:
        columns["token"] = rows["token"]
    columns["mode"] = pd.Categorical.from_codes(rows["mode"].astype(np.int64) - 1, _MODE_CATEGORIES, validate=False)
    columns.update((col, rows[field]) for field, col in _COLUMNS.items())
    columns["bid"], columns["ask"] = rows["bid_price"][:, 0], rows["ask_price"][:, 0]
    columns["bid_quantity"] = rows["bid_quantity"][:, 0]
    columns["ask_quantity"] = rows["ask_quantity"][:, 0]
    for field in _TIMES:
        seconds = rows[field]
        stamps = seconds.astype("datetime64[s]")
        stamps[seconds <= 0] = np.datetime64("NaT")
        columns[field] = pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(TIMEZONE)
    if depth:
        for side in ("bid", "ask"):
            for what in ("price", "quantity", "orders"):
                values = rows[f"{side}_{what}"]
                for level in range(DEPTH_LEVELS):
                    columns[f"{side}_{what}_{level + 1}"] = values[:, level]
    columns["gap"] = rows["gap"]
    index = pd.DatetimeIndex(
        pd.to_datetime(rows["received_ns"], unit="ns", utc=True).tz_convert(TIMEZONE), name="received"
    )
    return pd.DataFrame(columns, index=index)


def _instrument_names(rows: np.ndarray, names: Mapping[TickId, str]) -> pd.Categorical:
    """Each row's name as a categorical: one vectorised lookup, no Python work per tick.

    Names must be unique (one per instrument); unknown instruments get NaN.
    """
    labels = list(names.values())
    if not labels:
        return pd.Categorical.from_codes(np.full(len(rows), -1), [])
    known = tick_keys(np.array([t for t, _ in names]), np.array([s for _, s in names]))
    order = np.argsort(known)
    keys = tick_keys(rows["token"], rows["segment"])
    where = np.minimum(np.searchsorted(known[order], keys), len(known) - 1)
    codes = np.where(known[order][where] == keys, order[where], -1)
    return pd.Categorical.from_codes(codes, labels)


def bars(
    source: TickRings | np.ndarray | pd.DataFrame, rule: str = "1s", names: Mapping[TickId, str] | None = None
) -> pd.DataFrame:
    """OHLCV bars of `rule` (a pandas offset: "1s", "5s", "1min") from ticks, per instrument.

    open/high/low/close are of last_price (ticks with no price are skipped); volume is the
    traded quantity in the bar, from the difference of the cumulative day volume (LTP-mode
    ticks carry no volume and add nothing); `ticks` counts the ticks in the bar; `gap` is True
    when a tick in the bar followed a reconnect, so the bar may be missing trades. Bars with
    no tick are left out. Index: bar start (receive time, Asia/Kolkata); an `instrument`
    (or `token`) column when the ticks carry one.
    """
    frame = source if isinstance(source, pd.DataFrame) else to_frame(source, names)
    key = next((c for c in ("instrument", "token") if c in frame.columns), None)
    frame = frame[frame["last_price"] > 0]
    volume = frame["volume"].where(frame["volume"] > 0)
    by = [frame[key]] if key else []
    if key:
        volume = volume.groupby(frame[key], observed=True).ffill()
        traded = volume.groupby(frame[key], observed=True).diff()
    else:
        volume = volume.ffill()
        traded = volume.diff()
    ticks = frame.assign(traded=traded.clip(lower=0).fillna(0).astype(np.int64))
    grouped = ticks.groupby(by + [pd.Grouper(freq=rule)], observed=True, sort=True)
    out = grouped.agg(
        open=("last_price", "first"),
        high=("last_price", "max"),
        low=("last_price", "min"),
        close=("last_price", "last"),
        volume=("traded", "sum"),
        ticks=("last_price", "size"),
        gap=("gap", "any"),
    )
    if key:
        out = out.reset_index(key).sort_index(kind="stable")
    return out
