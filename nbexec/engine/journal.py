"""The signal journal: a local write-ahead line per signal, written before the first order byte.

Redis is never awaited in front of the wire, so between "orders written to the broker" and
"orders recorded in Redis" there is a window where only the broker knows. One `os.write` of a
JSON line to an O_APPEND file closes it: it costs microseconds, and the page cache outlives a
SIGKILL of the kernel process. Recovery reads back the signals whose every order Redis does
not yet know, and finishes each of them exactly once (by tag lookup at the broker).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator


_encode = json.JSONEncoder(separators=(",", ":")).encode
_string = json.encoder.encode_basestring_ascii   # C: one JSON string literal, escaped, in quotes
# A signal's line, formatted here rather than by the encoder from a dict: it is written in
# front of the first order byte, and building and encoding the dict cost ~60 us cold against
# ~20 us for this (`tests/engine/test_journal.py` checks it reads back as that dict).
_BEGIN = ('{"signal_id":%s,"spec":{"common":{"instrument":%s,"trigger_price":%r,"product":%s,'
          '"validity":%s,"created_at_ns":%d,"ts_signal":%d},"orders":[%s],"rejected":[%s]}}\n')
_ORDER = "[%s,%s,%d,%s,%r]"
_REJECTED = "[%s,%s,%d,%s,%r,%s]"

OrderSpec = tuple[str, str, int, str, float]             # account, side, quantity, order type, price
RejectedSpec = tuple[str, str, int, str, float, str]     # ... and the reason risk gave


def begin_line(signal_id: str, *, instrument: str, trigger_price: float, product: str, validity: str,
               created_at_ns: int, ts_signal: int, orders: Iterable[OrderSpec],
               rejected: Iterable[RejectedSpec] = ()) -> bytes:
    """A signal's begin line: the orders to send and those risk refused (so a crash before
    Redis loses neither). Pure, so the order path can build it before its first side effect.
    Read back, its spec is {"common": {the keywords but the lists}, "orders": [[...], ...],
    "rejected": [[...], ...]}. Prices are finite (an `Order` holds no other) and written as
    floats: `%r` of a NumPy number would not be JSON."""
    return (_BEGIN % (_string(signal_id), _string(instrument), float(trigger_price), _string(product),
                      _string(validity), created_at_ns, ts_signal,
                      ",".join([_ORDER % (_string(account), _string(side), quantity, _string(kind), float(price))
                                for account, side, quantity, kind, price in orders]),
                      ",".join([_REJECTED % (_string(account), _string(side), quantity, _string(kind),
                                             float(price), _string(reason))
                                for account, side, quantity, kind, price, reason in rejected]))).encode()


class SignalJournal:
    """Append-only JSON lines: {"signal_id": ..., "spec": {...}} then {"signal_id": ..., "done": true}."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _append(self, record: dict) -> None:
        os.write(self._fd, (_encode(record) + "\n").encode())

    def begin(self, line: bytes) -> None:
        """Record a signal (its `begin_line`) before any of its orders is written: one
        syscall, no fsync."""
        os.write(self._fd, line)

    def done(self, signal_id: str) -> None:
        """Every order of the signal is now in Redis; recovery may forget it."""
        self._append({"signal_id": signal_id, "done": True})

    def unfinished(self) -> Iterator[tuple[str, dict]]:
        """Signals begun and not marked done, oldest first. A torn last line is ignored."""
        pending: dict[str, dict] = {}
        with open(self.path, "rb") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash mid-write
                if record.get("done"):
                    pending.pop(record["signal_id"], None)
                else:
                    pending[record["signal_id"]] = record["spec"]
        yield from pending.items()

    def compact(self) -> None:
        """Rewrite the file with only the unfinished signals (call when nothing is in flight)."""
        keep = list(self.unfinished())
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for signal_id, spec in keep:
                f.write(_encode({"signal_id": signal_id, "spec": spec}) + "\n")
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def close(self) -> None:
        os.close(self._fd)
