"""Kite Connect v3 ticker client (docs/protocols/kite.md, The ticker WebSocket): binary ticks
into a sink, order updates out.

Kite's market feed is its ticker WebSocket, which also carries the account's order updates
(`order_updates.py` runs one with no subscriptions for them). Pure parts:
`subscribe_messages` / `unsubscribe_messages` build the JSON text frames; binary frames are
decoded by `ticks.decode_feed_message` (1-byte heartbeats decode to nothing but still feed the
watchdog: Kite sends one about every second when idle, so the default 5 s watchdog only fires
on a dead connection). Order postbacks (`{"type":"order","data":{...}}`) go to
`on_order_update` with the `data` object as Kite sent it; the broker adapter maps it.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlencode

from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds.client import FeedClient, TickSink
from nbexec.feeds.connection import Message, ReconnectPolicy
from nbexec.feeds.ring import TickId

from .ticks import decode_feed_message

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://ws.kite.trade"


def subscribe_messages(by_mode: Mapping[str, Sequence[int]]) -> list[Message]:
    """`subscribe` then `mode` per mode group: Kite subscribes new tokens in quote mode."""
    out: list[Message] = []
    for mode, tokens in by_mode.items():
        if tokens:
            out.append(json.dumps({"a": "subscribe", "v": list(tokens)}))
            out.append(json.dumps({"a": "mode", "v": [mode, list(tokens)]}))
    return out


def unsubscribe_messages(tokens: Sequence[int]) -> list[Message]:
    return [json.dumps({"a": "unsubscribe", "v": list(tokens)})] if tokens else []


class KiteTickerClient(FeedClient):
    """Streams Kite ticks into `sink` and order postbacks into `on_order_update`.

    `on_order_update(data)` runs on the loop inside the read loop: it must not block (hand
    the dict to a queue). Server `{"type":"error"}` texts are logged and kept in `last_error`.
    """

    name = "kite-ticker"
    broker = "kite"
    headers = {"X-Kite-Version": "3"}

    def __init__(
        self,
        url: str,
        api_key: str,
        access_token: Secret,
        *,
        sink: TickSink | None = None,
        on_order_update: Callable[[dict], None] | None = None,
        policy: ReconnectPolicy = ReconnectPolicy(),
        rng: random.Random | None = None,
    ) -> None:
        self.api_key, self._access_token = api_key, Secret(access_token)
        self.on_order_update = on_order_update
        self.last_error: str | None = None
        super().__init__(url, [self._access_token], sink=sink, policy=policy, rng=rng)

    def _connect_url(self) -> str:
        query = urlencode({"api_key": self.api_key, "access_token": self._access_token.reveal()})
        return f"{self.url}{'&' if '?' in self.url else '?'}{query}"

    def key(self, instrument: Instrument) -> int:
        return instrument.kite_token

    def tick_id(self, instrument: Instrument) -> TickId:
        token = instrument.kite_token
        return token, token & 0xFF

    def _subscribe_messages(self, by_mode: dict[str, list], previous: dict) -> list[Message]:
        return subscribe_messages(by_mode)  # a mode message moves a subscribed token too

    def _unsubscribe_messages(self, by_mode: dict[str, list]) -> list[Message]:
        return unsubscribe_messages([t for tokens in by_mode.values() for t in tokens])

    _decode = staticmethod(decode_feed_message)  # type: ignore[assignment]  # no wrapper frame: this runs on every tick

    def _on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
            kind = message.get("type")
        except (ValueError, AttributeError):
            log.warning("%s: unreadable text message skipped (%d chars)", self.name, len(text))
            return
        if kind == "order":
            if self.on_order_update is not None:
                self.on_order_update(message.get("data"))
        elif kind == "error":
            self.last_error = str(message.get("data"))
            log.warning("%s: server error: %s", self.name, self.last_error)
