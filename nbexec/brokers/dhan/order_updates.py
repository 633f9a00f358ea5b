"""Dhan's live order-update WebSocket (docs/protocols/dhan.md, The live order-update WebSocket)
into the adapter's `UpdateHub`.

On every (re)connect the client logs in with
`{"LoginReq":{"MsgCode":42,"ClientId":..,"Token":..},"UserType":"SELF"}`; the server then
pushes `{"Type":"order_alert","Data":{...}}` per change of the account's orders. Keeping the
socket open (backoff with jitter, secret-redacting logs) is `feeds.connection.FeedConnection`'s
job, shared with the market feeds. The server is silent while nothing happens, so there is
no silence watchdog: the socket's keepalive detects a dead peer (a ping every 20 s, its pong
due within 20 s: the `ReconnectPolicy` defaults). Updates missed while disconnected are
recovered by reconciliation against the order book. Runs on the loop that calls `start()`;
the message callback only parses and queues.
"""

from __future__ import annotations

import json
import logging

from nbexec.feeds.connection import FeedConnection, Message, ReconnectPolicy

from ..updates import UpdateHub
from .config import DhanConfig
from .parsing import parse_update

log = logging.getLogger(__name__)

POLICY = ReconnectPolicy(watchdog_s=None)


def login_message(config: DhanConfig) -> str:
    return json.dumps(
        {
            "LoginReq": {"MsgCode": 42, "ClientId": config.client_id, "Token": config.access_token.reveal()},
            "UserType": "SELF",
        }
    )


class DhanOrderUpdates:
    """Order updates of one Dhan account into `hub`."""

    def __init__(self, config: DhanConfig, hub: UpdateHub, policy: ReconnectPolicy = POLICY) -> None:
        self.hub = hub
        self._config = config
        self.connection = FeedConnection(
            "dhan-order-updates",
            lambda: config.order_ws_url,
            broker="dhan",
            secrets=[config.access_token],
            on_open=self._login,
            on_message=self._on_message,
            policy=policy,
        )

    def _login(self) -> list[Message]:
        return [login_message(self._config)]

    def _on_message(self, data: Message, received_ns: int) -> None:
        if not isinstance(data, str):
            return
        try:
            order = parse_update(json.loads(data))
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("dhan order update skipped: %s", exc)
            return
        if order is not None:
            self.hub.publish(order)

    def start(self) -> None:
        self.connection.start()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self.connection.wait_connected(timeout)

    async def close(self) -> None:
        await self.connection.close()
