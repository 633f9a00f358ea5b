"""Admin API of the paper exchange, for tests and benchmarks (no auth: loopback only).

GET  /admin/info                 what `nbexec sim` prints
GET  /admin/requests?since=SEQ   order requests received, each with its `recv_ns` stamp
GET  /admin/ticks?since=SEQ      feed frames sent: [seq, send_ns, channel, conn, bytes, ids]
GET  /admin/book[?account=ID]    orders, trades, positions and funds per account
GET  /admin/counters             counts of requests, frames, packets, faults, refusals
POST /admin/faults               body {"spec": "500=0.1,..."} (or the spec as plain text)
POST /admin/step?n=N             advance the market N steps (deterministic tests: tick_rate 0)
POST /admin/clear                forget the recorded requests and frames
Stamps are `time.monotonic_ns()`: one clock for every process on the machine.
This module is one of the exchange's front ends (`exchange.FrontEnd`).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from aiohttp import web

from nbexec.core.errors import ValidationError

from .exchange import Exchange
from .matching import Order, Position, Trade

NAME = "admin"
PATHS: tuple[str, ...] = ("/admin",)
ORDER_PATH: str | None = None  # nothing here is an order request


def _json(data, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


def order_json(o: Order) -> dict:
    return {
        "order_id": o.order_id,
        "account": o.account,
        "instrument": o.instrument.key,
        "side": o.side,
        "quantity": o.quantity,
        "order_type": o.order_type,
        "price": o.price,
        "trigger_price": o.trigger_price,
        "product": o.product,
        "validity": o.validity,
        "tag": o.tag,
        "status": o.status,
        "status_message": o.status_message,
        "filled_quantity": o.filled_quantity,
        "average_price": o.average_price,
        "cancelled_quantity": o.cancelled_quantity,
        "placed_at": o.placed_at,
        "history": [[s.status, s.ts] for s in o.history],
    }


def trade_json(t: Trade) -> dict:
    return {
        "trade_id": t.trade_id,
        "order_id": t.order_id,
        "instrument": t.instrument.key,
        "side": t.side,
        "product": t.product,
        "quantity": t.quantity,
        "price": t.price,
        "ts": t.ts,
    }


def position_json(p: Position) -> dict:
    return {
        "instrument": p.instrument.key,
        "product": p.product,
        "quantity": p.quantity,
        "buy_quantity": p.buy_quantity,
        "buy_value": p.buy_value,
        "sell_quantity": p.sell_quantity,
        "sell_value": p.sell_value,
    }


def book_json(x: Exchange, account: str) -> dict:
    e = x.engine
    funds = e.funds(account)
    return {
        "orders": [order_json(o) for o in e.orders(account)],
        "trades": [trade_json(t) for t in e.trades(account)],
        "positions": [position_json(p) for p in e.positions(account)],
        "funds": {**asdict(funds), "available": funds.available},
    }


def urls(http: str, websocket: str) -> dict[str, str]:
    return {"admin": f"{http}/admin"}


def unrouted(request: web.Request, exc: web.HTTPException) -> None:
    """aiohttp's own page: the admin API's callers (tests, benches) read the status alone."""
    return None


def setup(app: web.Application, x: Exchange) -> None:
    async def info(request):
        return _json(x.info())

    async def requests(request):
        since = int(request.query.get("since", 0))
        return _json({"requests": [r for r in x.recorder.requests if r["seq"] > since], "last": x.recorder.request_seq})

    async def ticks(request):
        since = int(request.query.get("since", 0))
        return _json({"frames": [list(f) for f in x.recorder.frames if f[0] > since], "last": x.recorder.frame_seq})

    async def book(request):
        wanted = request.query.get("account")
        ids = [wanted] if wanted else x.engine.accounts
        try:
            return _json({a: book_json(x, a) for a in ids})
        except ValidationError as exc:
            return _json({"error": str(exc)}, 404)

    async def counters(request):
        return _json(
            {
                **x.recorder.counters,
                "order_requests": x.recorder.request_seq,
                "frames": x.recorder.frame_seq,
                "steps": x.engine.steps,
                "rate_limited": x.limiter.refused,
                **{f"fault.{k}": v for k, v in x.faults.injected.items()},
            }
        )

    async def faults(request):
        body = await request.text()
        try:
            spec = json.loads(body).get("spec", "") if body.strip().startswith("{") else body.strip()
            x.set_faults(spec)
        except (ValidationError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"spec": asdict(x.faults.spec)})

    async def step(request):
        n = int(request.query.get("n", 1))
        x.step(n)
        return _json({"steps": x.engine.steps})

    async def clear(request):
        x.recorder.clear()
        return _json({"cleared": True})

    r = app.router
    r.add_get("/admin/info", info)
    r.add_get("/admin/requests", requests)
    r.add_get("/admin/ticks", ticks)
    r.add_get("/admin/book", book)
    r.add_get("/admin/counters", counters)
    r.add_post("/admin/faults", faults)
    r.add_post("/admin/step", step)
    r.add_post("/admin/clear", clear)
