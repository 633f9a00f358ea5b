"""Dhan v2 live market feed client (docs/protocols/dhan.md, The live market feed WebSocket):
binary packets into a sink.

Pure parts: `request_messages` builds the JSON requests (at most 100 instruments each, the
server's limit); packets are decoded by `ticks.decode_feed_packets`. A disconnect packet
(code 50) ends the connection: for credential, instrument-count and connection-count reasons
retrying cannot help (and a reconnect after 805 would only drop another of the user's
connections), so those stop the client with the reason in the error.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np

from nbexec.core.errors import AuthError, BrokerError
from nbexec.core.instruments import DHAN_SEGMENT_ENUM, Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds.client import FeedClient, TickSink, group_by_mode
from nbexec.feeds.connection import Message, ReconnectPolicy
from nbexec.feeds.ring import TickId

from .ticks import decode_feed_packets, disconnect_reason

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://api-feed.dhan.co"
MAX_PER_MESSAGE = 100
SUBSCRIBE_CODE = {"ltp": 15, "quote": 17, "full": 21}  # Ticker, Quote, Full
UNSUBSCRIBE_CODE = {"ltp": 16, "quote": 18, "full": 22}

# Disconnect reasons after which reconnecting cannot succeed: Dhan's Data API codes
# (docs/protocols/dhan.md, Disconnect packets and keep-alive).
_AUTH_REASONS = {
    807: "access token expired",
    808: "authentication failed",
    809: "access token invalid",
    810: "client id invalid",
}
_FINAL_REASONS = {
    804: "too many instruments on this connection",
    805: "too many connections for this client id (this one was the oldest)",
}

# The Dhan feed sends nothing while subscribed instruments do not trade, and proves liveness
# with pings instead (every 10 s; the socket answers them, and they feed the watchdog; it
# pings the server too). So the silence watchdog defaults to the server's own 40 s pong
# timeout, not Kite's 5 s: only a server silent through several of its own pings is dropped.
DEFAULT_POLICY = ReconnectPolicy(watchdog_s=40.0)

Key = tuple[str, int]  # (ExchangeSegment name, security id)


def request_messages(code: int, instruments: Sequence[Key]) -> list[str]:
    """One JSON request per chunk of at most 100 instruments."""
    out = []
    for start in range(0, len(instruments), MAX_PER_MESSAGE):
        chunk = instruments[start : start + MAX_PER_MESSAGE]
        out.append(
            json.dumps(
                {
                    "RequestCode": code,
                    "InstrumentCount": len(chunk),
                    "InstrumentList": [{"ExchangeSegment": seg, "SecurityId": str(sid)} for seg, sid in chunk],
                }
            )
        )
    return out


class DhanFeedClient(FeedClient):
    """Streams Dhan v2 feed packets into `sink`.

    Order updates travel on Dhan's separate order-update socket, not here.
    """

    name = "dhan-feed"
    broker = "dhan"

    def __init__(
        self,
        url: str,
        client_id: str,
        access_token: Secret,
        *,
        sink: TickSink | None = None,
        policy: ReconnectPolicy = DEFAULT_POLICY,
        rng: random.Random | None = None,
    ) -> None:
        self.client_id, self._access_token = str(client_id), Secret(access_token)
        super().__init__(url, [self._access_token], sink=sink, policy=policy, rng=rng)

    def _connect_url(self) -> str:
        query = urlencode(
            {"version": "2", "token": self._access_token.reveal(), "clientId": self.client_id, "authType": "2"}
        )
        return f"{self.url}{'&' if '?' in self.url else '?'}{query}"

    def key(self, instrument: Instrument) -> Key:
        return instrument.dhan_segment, instrument.security_id

    def tick_id(self, instrument: Instrument) -> TickId:
        return instrument.security_id, DHAN_SEGMENT_ENUM[instrument.dhan_segment]

    def _subscribe_messages(self, by_mode: dict[str, list], previous: dict) -> list[Message]:
        # A mode change is unsubscribe-then-subscribe: whether Dhan moves an instrument or
        # adds a second subscription on a plain re-subscribe is not documented.
        out = self._unsubscribe_messages(group_by_mode(previous))
        for mode, keys in by_mode.items():
            out += request_messages(SUBSCRIBE_CODE[mode], keys)
        return out

    def _unsubscribe_messages(self, by_mode: dict[str, list]) -> list[Message]:
        return [m for mode, keys in by_mode.items() for m in request_messages(UNSUBSCRIBE_CODE[mode], keys)]

    def _decode(self, data: bytes) -> np.ndarray | bytes:
        ticks = decode_feed_packets(data)
        if not len(ticks):  # a disconnect packet travels alone and holds no tick
            reason = disconnect_reason(data)
            if reason is not None:
                self._disconnected(reason)
        return ticks

    def _disconnected(self, reason: int) -> None:
        if reason in _AUTH_REASONS:
            raise AuthError(f"feed disconnected: {_AUTH_REASONS[reason]}", broker="dhan", code=str(reason))
        if reason in _FINAL_REASONS:
            raise BrokerError(f"feed disconnected: {_FINAL_REASONS[reason]}", broker="dhan", code=str(reason))
        log.warning("%s: server disconnect, reason %d; will reconnect", self.name, reason)
