"""The paper exchange's Kite Connect v3 front end: REST at the root, the ticker at /kite/ws.

  api      REST handlers: credentials, rate limits, faults, then the engine
  format   engine objects as Kite's JSON and CSV (pure)
  ws       the ticker WebSocket: subscriptions, binary frames, order updates
  ticks    the binary tick encoder (the exchange's own copy of Kite's wire vocabulary)

This package is one of the exchange's front ends (`exchange.FrontEnd`).
"""

from __future__ import annotations

from aiohttp import web

from ..exchange import Exchange
from . import api, ws

NAME = "kite"
# The root: the Kite SDK's urljoin drops any path on `root`, so its REST cannot sit under one.
PATHS: tuple[str, ...] = ("",)
ORDER_PATH: str | None = "/orders"
unrouted = api.unrouted


def setup(app: web.Application, exchange: Exchange) -> None:
    api.setup(app, exchange)
    ws.setup(app, exchange)


def urls(http: str, websocket: str) -> dict[str, str]:
    return {"kite_rest": http, "kite_ws": f"{websocket}{ws.PATH}"}
