"""Dhan's compact security list (`api-scrip-master.csv`) -> `Instrument`s. Pure.

The `dhanhq` SDK only downloads this file (`Security.fetch_security_list`) and hands it to
pandas; the columns are Dhan's: SEM_EXM_EXCH_ID (NSE / BSE / MCX), SEM_SEGMENT (E equity,
D derivatives, C currency, M commodity, I index), SEM_SMST_SECURITY_ID, SEM_INSTRUMENT_NAME,
SEM_EXPIRY_CODE, SEM_TRADING_SYMBOL, SEM_LOT_UNITS, SEM_CUSTOM_SYMBOL, SEM_EXPIRY_DATE,
SEM_STRIKE_PRICE, SEM_OPTION_TYPE, SEM_TICK_SIZE, SEM_EXPIRY_FLAG, SEM_EXCH_INSTRUMENT_TYPE,
SEM_SERIES, SM_SYMBOL_NAME. The security id doubles as the exchange token (true for NSE / BSE
cash, where Dhan uses the exchange's code).

SEM_TICK_SIZE's unit is not confirmed by the official docs (docs/protocols/dhan.md, The security
list CSV): copies of the file show NSE ticks in paise (5.0 for Rs 0.05), so values of 1 or more
are read as paise; pass `tick_in_paise=False` if a file says otherwise.
Derivative symbols are Dhan's (`NIFTY-Dec2026-FUT`), not Kite's; `Catalog.merged` joins the
two lists by `EXCHANGE:SYMBOL`, so only cash instruments and indices join reliably.
The paper exchange does not serve this file.
"""

from __future__ import annotations

import csv
import io

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument

from .parsing import EXCHANGE_BY_CODE

CACHE_NAME = "dhan-security-list"
REQUIRED = ("SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID", "SEM_TRADING_SYMBOL")
_TYPE = {
    "EQUITY": "EQ",
    "INDEX": "EQ",
    "FUTIDX": "FUT",
    "FUTSTK": "FUT",
    "FUTCUR": "FUT",
    "FUTCOM": "FUT",
    "OPTIDX": "OPT",
    "OPTSTK": "OPT",
    "OPTCUR": "OPT",
    "OPTFUT": "OPT",
}


def _tick(raw: str, in_paise: bool) -> float:
    value = float(raw or 0)
    if value <= 0:
        return 0.05
    return value / 100 if in_paise and value >= 1 else value


def parse_security_list(text: str | bytes, *, tick_in_paise: bool = True) -> list[Instrument]:
    """Every row on a segment nbexec trades (and indices), in file order."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError("security list csv", reader.fieldnames, f"missing columns {missing}")
    out: list[Instrument] = []
    for row in reader:
        exchange = EXCHANGE_BY_CODE.get((row["SEM_EXM_EXCH_ID"], row["SEM_SEGMENT"]))
        if exchange is None:
            continue
        kind = row.get("SEM_INSTRUMENT_NAME") or ""
        option = row.get("SEM_OPTION_TYPE") or ""
        try:
            security_id = int(float(row["SEM_SMST_SECURITY_ID"]))
            out.append(
                Instrument(
                    exchange,
                    row["SEM_TRADING_SYMBOL"],
                    security_id,
                    tick_size=_tick(row.get("SEM_TICK_SIZE", ""), tick_in_paise),
                    lot_size=int(float(row.get("SEM_LOT_UNITS") or 1)) or 1,
                    name=row.get("SM_SYMBOL_NAME") or row.get("SEM_CUSTOM_SYMBOL") or "",
                    instrument_type=option
                    if _TYPE.get(kind) == "OPT" and option in ("CE", "PE")
                    else _TYPE.get(kind, kind or "EQ"),
                    dhan_security_id=security_id,
                )
            )
        except (ValueError, ValidationError):
            continue
    return out
