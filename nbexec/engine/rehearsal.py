"""Rehearsals: busy polling's warm-up of the armed signals' order path.

While the loop busy-polls (`nbexec.engine.busy_poll`), one armed signal in turn is readied as
if fired now and thrown away, after its instrument's feeds decoded their newest tick message
again and the journal's next pages were touched: the way trading systems keep their hot path
warm by running it with the send switched off. Nothing is sent, journaled, recorded or
changed (not even a half-open route's probe).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Container

from .gate import Gate
from .gc_pause import without_gc
from .journal import SignalJournal
from .market_data import MarketData
from .planning import Armed
from .readying import Readier


class Rehearsals:
    """The armed signals to keep warm, rehearsed one per call; fired ones (their signal id in
    `fired`) and every signal while the gate is closed are skipped."""

    def __init__(
        self, readier: Readier, market: MarketData, journal: SignalJournal, gate: Gate, fired: Container[str]
    ) -> None:
        self._readier, self._market, self._journal, self._gate, self._fired = readier, market, journal, gate, fired
        self._armed: weakref.WeakSet[Armed] = weakref.WeakSet()  # dropped with the user's last reference
        self.count = 0

    def add(self, armed: Armed) -> None:
        self._armed.add(armed)

    def __call__(self) -> None:
        armed = [a for a in self._armed if a.signal_id not in self._fired]
        if not armed or not self._gate.open:
            return
        plan = armed[self.count % len(armed)].plan
        self.count += 1
        self._market.rehearse(plan.instrument.key)
        self._journal.warm()
        without_gc(
            lambda: self._readier.ready(
                plan, time.monotonic_ns(), None, self._market.last_quote(plan.instrument.key), rehearsal=True
            )
        )
