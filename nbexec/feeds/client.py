"""What every broker's market-feed client shares: subscriptions by mode, resubscribe, tick sink.

A broker client says only how its URL, its subscription messages and its binary decoding look
(pure functions in its module); keeping the socket alive is `FeedConnection`'s job. Ticks go
to a `TickSink` (the feed's rings, or `Feed` itself), which is told about reconnects so the
next tick of each instrument is marked as following a gap.

Every method runs on the event loop the client was started on; `subscribe`/`unsubscribe` are
sync and safe from a widget callback (they only record and schedule a send).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from typing import Protocol

import numpy as np

from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret

from .connection import FeedConnection, Message, ReconnectPolicy
from .ring import TickId

MODES = ("ltp", "quote", "full")


def group_by_mode(modes: dict[Hashable, str]) -> dict[str, list]:
    """{key: mode} -> {mode: [keys]}, keys in subscription order."""
    by_mode: dict[str, list] = {}
    for key, mode in modes.items():
        by_mode.setdefault(mode, []).append(key)
    return by_mode


class TickSink(Protocol):
    """Where decoded ticks go; called on the loop, inside the read loop: must not block.
    `ticks` is a `TICK_DTYPE` array, or one tick's row as bytes (a message of one tick
    packet, decoded without NumPy by the broker's `ticks.lone_row`)."""

    def append(self, ticks: np.ndarray | bytes, received_ns: int) -> object: ...

    def mark_gap(self) -> None: ...


class _Discard:
    def append(self, ticks: np.ndarray | bytes, received_ns: int) -> None:
        pass

    def mark_gap(self) -> None:
        pass


class FeedClient(ABC):
    """A market-data WebSocket client: subscriptions by mode, kept across reconnects.

    `sink=None` discards ticks (e.g. a broker adapter that only wants Kite order updates).
    """

    name = "feed"
    broker = ""
    headers: dict[str, str] = {}

    def __init__(
        self,
        url: str,
        secrets: list[Secret],
        *,
        sink: TickSink | None,
        policy: ReconnectPolicy,
        rng: random.Random | None,
    ) -> None:
        self.url = url
        self._last_ticks: bytes | None = None
        self.sink: TickSink = sink if sink is not None else _Discard()
        self.modes: dict[Hashable, str] = {}  # subscription key -> mode
        self.connection = FeedConnection(
            self.name,
            self._connect_url,
            broker=self.broker,
            secrets=secrets,
            on_open=self._resubscribe,
            on_message=self._on_message,
            on_lost=self.sink_gap,
            policy=policy,
            headers=self.headers,
            rng=rng,
        )

    # -- what each broker says ------------------------------------------------------------
    @abstractmethod
    def _connect_url(self) -> str:
        """The URL with credentials; built at connect time only, never stored or logged."""

    @abstractmethod
    def key(self, instrument: Instrument) -> Hashable:
        """The instrument's subscription key in this broker's messages."""

    @abstractmethod
    def tick_id(self, instrument: Instrument) -> TickId:
        """(token, segment) that the decoder writes for this instrument's ticks."""

    @abstractmethod
    def _subscribe_messages(self, by_mode: dict[str, list], previous: dict) -> list[Message]:
        """Messages subscribing `by_mode` keys; `previous` = the modes they had (if any)."""

    @abstractmethod
    def _unsubscribe_messages(self, by_mode: dict[str, list]) -> list[Message]:
        """Messages ending the subscriptions of `by_mode` keys (each in its current mode)."""

    @abstractmethod
    def _decode(self, data: bytes) -> np.ndarray | bytes:
        """Ticks (`TICK_DTYPE`) in one binary message; may raise `BrokerError` to stop."""

    def _on_text(self, text: str) -> None:  # noqa: B027 - a hook, a no-op unless overridden
        """A text message from the server; market feeds send none by default."""

    # -- subscriptions --------------------------------------------------------------------
    def subscribe(self, instruments: Iterable[Instrument], mode: str = "quote") -> None:
        """Stream `instruments` in `mode` ("ltp", "quote" or "full"), now and after reconnects."""
        if mode not in MODES:
            raise ValidationError("mode", mode, f"must be one of {MODES}")
        previous = {}
        keys = []
        for instrument in instruments:
            key = self.key(instrument)
            if self.modes.get(key) != mode:
                if key in self.modes:
                    previous[key] = self.modes[key]
                keys.append(key)
                self.modes[key] = mode
        if keys:
            self.connection.send_soon(self._subscribe_messages({mode: keys}, previous))

    def unsubscribe(self, instruments: Iterable[Instrument]) -> None:
        """Stop streaming `instruments` (unknown ones are ignored)."""
        gone = {}
        for instrument in instruments:
            key = self.key(instrument)
            if key in self.modes:
                gone[key] = self.modes.pop(key)
        if gone:
            self.connection.send_soon(self._unsubscribe_messages(group_by_mode(gone)))

    def _resubscribe(self) -> list[Message]:
        return self._subscribe_messages(group_by_mode(self.modes), {})

    # -- the stream -----------------------------------------------------------------------
    def _on_message(self, data: Message, received_ns: int) -> None:
        if isinstance(data, str):
            self._on_text(data)
            return
        ticks = self._decode(data)
        if len(ticks):
            self._last_ticks = data
            self.sink.append(ticks, received_ns)

    def rehearse(self) -> None:
        """Decode the newest message that carried ticks again and drop the result: nothing
        reaches the sink and nothing changes (such a message means no more than its ticks),
        so busy polling can run it to keep the decoder warm (`nbexec.engine.rehearsal`)."""
        if self._last_ticks is not None:
            self._decode(self._last_ticks)

    def sink_gap(self) -> None:
        self.sink.mark_gap()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background on the running loop; see `wait_connected`."""
        self.connection.start()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self.connection.wait_connected(timeout)

    async def close(self) -> None:
        """Close the socket; no task of this client survives it. Idempotent."""
        await self.connection.close()

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.connection.public_url!r}, "
            f"{len(self.modes)} subscribed, connects={self.connection.connects})"
        )
