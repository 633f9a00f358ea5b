"""The paper exchange's instrument universe: a few real NSE names plus synthetic ones on demand.

Pure: no I/O. `build_universe` is deterministic, so the same `--symbols` list gives the same
tokens and starting prices on every run.
"""

from __future__ import annotations

import hashlib

from nbexec.core.instruments import Instrument

# (instrument, reference close) for the zero-config default universe.
DEFAULT_LISTINGS: tuple[tuple[Instrument, float], ...] = (
    (Instrument("NSE", "INFY", 1594, name="INFOSYS"), 1500.0),
    (Instrument("NSE", "RELIANCE", 2885, name="RELIANCE INDUSTRIES"), 2900.0),
    (Instrument("NSE", "TCS", 11536, name="TATA CONSULTANCY SERV"), 4000.0),
    (Instrument("NSE", "HDFCBANK", 1333, name="HDFC BANK"), 1700.0),
    (Instrument("NSE", "SBIN", 3045, name="STATE BANK OF INDIA"), 800.0),
    (Instrument("NSE", "ITC", 1660, name="ITC"), 450.0),
    # Kite names the index NSE:NIFTY 50 with token 256265 = 1001<<8 | 9 (segment INDICES);
    # Dhan's IDX_I security id for it is 13.
    (Instrument("INDICES", "NIFTY 50", 1001, name="NIFTY 50", instrument_type="EQ", dhan_security_id=13), 22000.0),
)
DEFAULT_SYMBOLS: tuple[str, ...] = tuple(i.symbol for i, _ in DEFAULT_LISTINGS)


def _synthetic(symbol: str, exchange: str) -> tuple[Instrument, float]:
    """A made-up listing whose token and price derive from its name (stable across runs)."""
    h = int.from_bytes(hashlib.blake2b(f"{exchange}:{symbol}".encode(), digest_size=8).digest(), "big")
    token = 100_000 + h % 800_000  # clear of the real tokens above
    price = float(50 + (h >> 20) % 4950)  # 50 .. 4999 rupees, on the 0.05 grid
    return Instrument(exchange, symbol, token, name=symbol), price


def build_universe(symbols: list[str] | tuple[str, ...] | None = None) -> list[tuple[Instrument, float]]:
    """Listings for `symbols` (`INFY`, `NSE:INFY`, or any new name, which is synthesised).

    None means the default universe. Duplicate names are listed once; exchange tokens are
    unique (a synthetic clash is moved to the next free token).
    """
    if not symbols:
        return list(DEFAULT_LISTINGS)
    known = {i.symbol: (i, p) for i, p in DEFAULT_LISTINGS}
    out: list[tuple[Instrument, float]] = []
    seen: set[str] = set()
    tokens: set[tuple[str, int]] = set()
    for raw in symbols:
        exchange, _, symbol = raw.rpartition(":")
        exchange = (exchange or "NSE").upper()
        symbol = symbol.upper()
        if symbol in known and exchange in ("NSE", known[symbol][0].exchange):
            listing = known[symbol]
        else:
            listing = _synthetic(symbol, exchange)
        inst, price = listing
        if inst.key in seen:
            continue
        while (inst.exchange, inst.exchange_token) in tokens:
            inst = Instrument(inst.exchange, inst.symbol, inst.exchange_token + 1, name=inst.name)
        seen.add(inst.key)
        tokens.add((inst.exchange, inst.exchange_token))
        out.append((inst, price))
    return out
