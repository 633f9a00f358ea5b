"""A broker-neutral instrument lookup: `EXCHANGE:SYMBOL` <-> Kite token / Dhan security id.

Pure: built from `Instrument`s (each broker's `instruments.py` parses its own dump), held in
plain dicts, so each lookup is one hash probe. `merged` lays a second broker's ids over the
first's instruments by name (Kite's dump knows tokens and ticks, Dhan's list knows security
ids), so one catalog serves both adapters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from .errors import ValidationError
from .instruments import Instrument


class Catalog:
    """Instruments by key, by Kite instrument_token and by (Dhan segment, security id)."""

    __slots__ = ("_by_key", "_by_kite", "_by_dhan")

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_key: dict[str, Instrument] = {}
        self._by_kite: dict[int, Instrument] = {}
        self._by_dhan: dict[tuple[str, int], Instrument] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        """Add or replace (by key) one instrument."""
        old = self._by_key.get(instrument.key)
        if old is not None:
            self._by_kite.pop(old.kite_token, None)
            self._by_dhan.pop((old.dhan_segment, old.security_id), None)
        self._by_key[instrument.key] = instrument
        self._by_kite[instrument.kite_token] = instrument
        self._by_dhan[(instrument.dhan_segment, instrument.security_id)] = instrument

    @classmethod
    def merged(cls, primary: Iterable[Instrument], security_ids: Iterable[Instrument]) -> Catalog:
        """`primary`'s instruments, each with the Dhan security id of the same key in
        `security_ids`; instruments only the second source knows are added as they are."""
        catalog = cls(primary)
        for other in security_ids:
            mine = catalog.get(other.key)
            if mine is None:
                catalog.add(other)
            elif mine.security_id != other.security_id:
                catalog.add(replace(mine, dhan_security_id=other.security_id))
        return catalog

    def get(self, key: str) -> Instrument | None:
        return self._by_key.get(key)

    def __getitem__(self, key: str) -> Instrument:
        instrument = self._by_key.get(key)
        if instrument is None:
            raise ValidationError("instrument", key, "not in the instrument catalog")
        return instrument

    def by_kite_token(self, token: int) -> Instrument | None:
        return self._by_kite.get(token)

    def by_security_id(self, segment: str, security_id: int) -> Instrument | None:
        return self._by_dhan.get((segment, int(security_id)))

    def tick_size(self, key: str) -> float:
        return self[key].tick_size

    def lot_size(self, key: str) -> int:
        return self[key].lot_size

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} instruments)"
