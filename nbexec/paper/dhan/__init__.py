"""The paper exchange's Dhan v2 front end: REST under /v2, the feed and order updates under /dhan.

  api      REST handlers: credentials, rate limits, faults, then the engine
  wire     request validation and response bodies in Dhan's JSON (pure)
  ws       the market feed and order-update WebSockets
  ticks    the feed's packet encoders (the exchange's own copy of Dhan's wire vocabulary)

This package is one of the exchange's front ends (`exchange.FrontEnd`).
"""

from __future__ import annotations

from aiohttp import web

from ..exchange import Exchange
from . import api, ws

NAME = "dhan"
PATHS: tuple[str, ...] = ("/v2", "/dhan")
ORDER_PATH: str | None = "/v2/orders"


def setup(app: web.Application, exchange: Exchange) -> None:
    api.setup(app, exchange)
    ws.setup(app, exchange)


def urls(http: str, websocket: str) -> dict[str, str]:
    return {
        "dhan_rest": f"{http}/v2",
        "dhan_feed_ws": f"{websocket}{ws.FEED_PATH}",
        "dhan_order_ws": f"{websocket}{ws.ORDERS_PATH}",
    }


def unrouted(request: web.Request, exc: web.HTTPException) -> None:
    """aiohttp's own page: unknown /v2 paths never get here (`api` answers them in Dhan's
    JSON), and the WebSocket paths have no envelope of their own."""
    return None
