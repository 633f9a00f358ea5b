"""Kite's instruments dump (`GET /instruments`, CSV) -> `Instrument`s. Pure.

Header (docs/protocols/kite.md, Instruments CSV): instrument_token, exchange_token,
tradingsymbol, name, last_price, expiry, strike, tick_size, lot_size, instrument_type, segment,
exchange. Indices are listed
with exchange NSE / BSE and segment INDICES; nbexec files them under exchange INDICES, as its
`Instrument` does. Rows on exchanges nbexec does not trade (NCO, NSEIX, ...) are skipped, and
so is a row whose instrument_token disagrees with `(exchange_token << 8) | segment code`.
"""

from __future__ import annotations

import csv
import io

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import KITE_SEGMENT_CODES, Instrument

CACHE_NAME = "kite-instruments"
REQUIRED = ("instrument_token", "exchange_token", "tradingsymbol", "tick_size", "lot_size", "segment", "exchange")


def parse_instruments(text: str | bytes) -> list[Instrument]:
    """Every tradable (and index) row of the dump, in file order."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError("instruments csv", reader.fieldnames, f"missing columns {missing}")
    out: list[Instrument] = []
    for row in reader:
        exchange = "INDICES" if row["segment"] == "INDICES" else row["exchange"]
        if exchange not in KITE_SEGMENT_CODES:
            continue
        try:
            instrument = Instrument(
                exchange,
                row["tradingsymbol"],
                int(row["exchange_token"]),
                tick_size=float(row["tick_size"]) or 0.05,
                lot_size=int(float(row["lot_size"])) or 1,
                name=row.get("name") or "",
                instrument_type=row.get("instrument_type") or "EQ",
            )
        except (ValueError, ValidationError):
            continue
        if instrument.kite_token == int(row["instrument_token"]):
            out.append(instrument)
    return out
