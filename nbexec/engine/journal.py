"""The signal journal: a local write-ahead line per signal, written before the first order byte.

Redis is never awaited in front of the wire, so between "orders written to the broker" and
"orders recorded in Redis" there is a window where only the broker knows. A JSON line in a
local file closes it. Each engine has a journal file of its own, mapped into memory: a line is
one copy into the page cache instead of a system call (an `os.write` also updates the file's
times through the filesystem, in front of the order; figures: docs/performance.md, Figures
behind design choices), and the page cache outlives a SIGKILL of the kernel process just as a
written line does (neither survives a power cut: no fsync, before or now).

The engine holds its file locked (`flock`) while it lives. Recovery at start (`orphans`)
finishes the unfinished signals of the files whose engine is gone, exactly once (by tag
lookup at the broker), holding each file locked meanwhile, then deletes it; a file still
locked belongs to a live engine (another kernel on the same data dir and prefix), which will
finish its own signals, so it is left alone.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

_string = json.encoder.encode_basestring_ascii  # C: one JSON string literal, escaped, in quotes
# A signal's line, formatted here rather than by the encoder from a dict: it is written in
# front of the first order byte, and building and encoding the dict costs, cold, several times
# what this format does (`tests/engine/test_journal.py` checks it reads back as that dict).
_BEGIN = (
    '{"signal_id":%s,"spec":{"common":{"instrument":%s,"trigger_price":%r,"product":%s,'
    '"validity":%s,"created_at_ns":%d,"ts_signal":%d},"orders":[%s],"rejected":[%s]}}\n'
)
_ORDER = "[%s,%s,%d,%s,%r]"
_REJECTED = "[%s,%s,%d,%s,%r,%s]"

OrderSpec = tuple[str, str, int, str, float]  # account, side, quantity, order type, price
RejectedSpec = tuple[str, str, int, str, float, str]  # ... and the reason risk gave


def begin_line(
    signal_id: str,
    *,
    instrument: str,
    trigger_price: float,
    product: str,
    validity: str,
    created_at_ns: int,
    ts_signal: int,
    orders: Iterable[OrderSpec],
    rejected: Iterable[RejectedSpec] = (),
) -> bytes:
    """A signal's begin line: the orders to send and those risk refused (so a crash before
    Redis loses neither). Pure, so the order path can build it before its first side effect.
    Read back, its spec is {"common": {the keywords but the lists}, "orders": [[...], ...],
    "rejected": [[...], ...]}. Prices are finite (an `Order` holds no other) and written as
    floats: `%r` of a NumPy number would not be JSON."""
    return (
        _BEGIN
        % (
            _string(signal_id),
            _string(instrument),
            float(trigger_price),
            _string(product),
            _string(validity),
            created_at_ns,
            ts_signal,
            ",".join(
                [
                    _ORDER % (_string(account), _string(side), quantity, _string(kind), float(price))
                    for account, side, quantity, kind, price in orders
                ]
            ),
            ",".join(
                [
                    _REJECTED
                    % (_string(account), _string(side), quantity, _string(kind), float(price), _string(reason))
                    for account, side, quantity, kind, price, reason in rejected
                ]
            ),
        )
    ).encode()


INITIAL_SIZE = 1 << 20  # bytes mapped at first (a line is ~0.2 KB + ~60 B per order); doubled when full
PAGE = mmap.PAGESIZE


class SignalJournal:
    """This engine's journal: `{prefix}-signals-{pid}-{random}.log` in `directory`, locked and
    mapped while the engine lives. Lines: {"signal_id": ..., "spec": {...}} (`begin_line`),
    then {"signal_id": ..., "done": true}; the unused rest of the file is zeros."""

    def __init__(self, directory: Path, prefix: str, size: int = INITIAL_SIZE) -> None:
        self.directory, self.prefix = Path(directory), prefix
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{prefix}-signals-{os.getpid()}-{secrets.token_hex(4)}.log"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # new and ours: never waits
        os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._at = 0

    def begin(self, line: bytes) -> None:
        """Record a signal (its `begin_line`) before any of its orders is written."""
        at = self._at
        end = at + len(line)
        if end > len(self._map):
            self._map.resize(max(2 * len(self._map), end))  # the file too
        self._map[at:end] = line
        self._at = end

    def done(self, signal_id: str) -> None:
        """Every order of the signal is now in Redis; recovery may forget it."""
        self.begin(b'{"signal_id":%s,"done":true}\n' % _string(signal_id).encode())

    def warm(self) -> None:
        """Touch the pages the next line goes to, writing the zeros they hold: after the
        kernel writes a page back it is write-protected again, and the next write to it takes
        a fault; busy polling's rehearsals take it instead of a signal."""
        for at in range(self._at, min(self._at + 2 * PAGE, len(self._map)), PAGE):
            self._map[at] = 0

    def unfinished(self) -> list[tuple[str, dict]]:
        """This journal's signals begun and not done, oldest first."""
        return unfinished(self._map[: self._at])

    def orphans(self) -> Iterator[Orphan]:
        """The journals of this directory and prefix whose engine is gone, each locked by us
        when it is reached (see `Orphan`: one at a time, so a recovery that fails leaves the
        rest unlocked); those another engine holds are left out."""
        for path in sorted(self.directory.glob(f"{self.prefix}-signals*.log")):
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:  # finished by another engine's recovery meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its engine is alive, or another recovery has it
                os.close(fd)
                continue
            if not os.path.exists(path):  # deleted by the recovery that held it before us
                os.close(fd)
                continue
            yield Orphan(path, fd)

    def close(self) -> None:
        """Unmap and unlock; the file is deleted if every signal in it is done, else left for
        the next start's recovery."""
        finished = not self.unfinished()
        self._map.close()
        if finished:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)


class Orphan:
    """A journal whose engine is gone, locked while a recovery finishes its signals: used as
    `with orphan:`, it is deleted when the block ends without an error, and only unlocked
    (kept for the next recovery) when it raises."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    def unfinished(self) -> list[tuple[str, dict]]:
        with open(self._fd, "rb", closefd=False) as f:
            return unfinished(f.read())

    def __enter__(self) -> Orphan:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.path.unlink()
        os.close(self._fd)

    def __repr__(self) -> str:
        return f"Orphan({self.path.name})"


def unfinished(data: bytes) -> list[tuple[str, dict]]:
    """The signals of a journal's bytes begun and not done, oldest first. A line cut short by a
    crash and the zeros after the last line are ignored."""
    pending: dict[str, dict] = {}
    for line in data.split(b"\0", 1)[0].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("done"):
            pending.pop(record["signal_id"], None)
        else:
            pending[record["signal_id"]] = record["spec"]
    return list(pending.items())
