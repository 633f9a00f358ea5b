"""Dhan v2 REST of the paper exchange (docs/protocols/dhan.md), under `/v2`.

Thin: authenticate by the `access-token` + `client-id` headers, apply rate limits and seeded
faults, validate with `wire`, call the engine, render with `wire`. Every response is JSON,
errors included (`{"errorType","errorCode","errorMessage"}`): the `dhanhq` SDK turns any
non-JSON body, even an empty 2xx one, into a failure.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nbexec.core.errors import OrderNotFound, ValidationError

from ..exchange import ORDER_RECORD, Exchange
from ..services import PaperAccount
from . import wire

Handler = Callable[[web.Request, PaperAccount, "dict | None"], Awaitable[web.Response]]

_FAULTS = {
    "500": (500, "Internal_Server_Error", "DH-908", "Internal server error"),
    "502": (502, "Network_Error", "DH-909", "Couldn't reach the OMS"),
    "503": (503, "Network_Error", "DH-909", "Service unavailable"),
    "429": (429, "Rate_Limit", "DH-904", "Too many requests"),
}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data, separators=(",", ":")).encode(), content_type="application/json"
    )


class DhanError(Exception):
    """Raised inside handlers; rendered as Dhan's error body."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body["errorMessage"])
        self.status, self.body = status, body

    @classmethod
    def of(cls, exc: BaseException) -> DhanError:
        return cls(*wire.error_for(exc))

    @classmethod
    def kind(cls, kind: tuple[int, str, str], message: str) -> DhanError:
        return cls(*wire.error_body(kind, message))


class DhanApi:
    """Handlers bound to one exchange; `route` wraps each with auth, limits and faults."""

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange

    def authenticate(self, request: web.Request) -> PaperAccount:
        token = request.headers.get("access-token", "")
        client = request.headers.get("client-id", "")
        account = self.x.account_by_dhan(token, client) if token and client else None
        if account is None:  # never echo the token: it is a secret
            raise DhanError.kind(wire.AUTH_FAILED, "Invalid client id or access token (client-id, access-token)")
        return account

    def route(self, handler: Handler, limit_class: str, is_order: bool = False):
        async def wrapped(request: web.Request) -> web.Response:
            rec = request.get(ORDER_RECORD)
            try:
                account = self.authenticate(request)
                if rec is not None:
                    rec["account"] = account.id
                if not self.x.limiter.check(account.dhan_access_token, limit_class):
                    raise DhanError.kind(wire.RATE_LIMITED, "Too many requests: rate limit exceeded")
                fault = self.x.faults.rest(is_order)
                if fault in _FAULTS:
                    status, error_type, code, message = _FAULTS[fault]
                    raise DhanError(status, {"errorType": error_type, "errorCode": code, "errorMessage": message})
                response = await handler(request, account, rec)
                if rec is not None:
                    rec["status"] = response.status
                if fault == "hang":
                    await self.x.hang()
                elif fault == "reset" and request.transport is not None:
                    request.transport.abort()
                return response
            except DhanError as e:
                if rec is not None:
                    rec["status"] = e.status
                return _json(e.body, e.status)

        return wrapped

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise DhanError.kind(wire.INPUT_ERROR, "Invalid body: not JSON") from None

    # -- orders -----------------------------------------------------------------------------
    def _place(self, account: PaperAccount, body: Any, rec: dict | None):
        try:
            req = wire.parse_place(body, account.dhan_client_id)
            inst = self.x.engine.by_security_id.get((req.segment, req.security_id))
            if inst is None:
                raise ValidationError("securityId", str(req.security_id), f"unknown in {req.segment}")
            corr = req.correlation_id
            if rec is not None:
                rec["tag"] = corr or None
            # The engine's tag holds 20 characters, Dhan's correlationId 30: keep the long ones in meta.
            tag = corr if corr and len(corr) <= 20 else None
            order = self.x.engine.place(
                account.id,
                inst.key,
                req.side,
                req.quantity,
                order_type=req.order_type,
                price=req.price,
                trigger_price=req.trigger_price,
                product=req.product,
                validity=req.validity,
                tag=tag,
                disclosed_quantity=req.disclosed_quantity,
                meta={"correlation_id": corr} if corr else None,
            )
        except (ValidationError, OrderNotFound) as exc:
            raise DhanError.of(exc) from None
        if rec is not None:
            rec["order_id"] = order.order_id
        return order

    async def place(self, request, account, rec) -> web.Response:
        order = self._place(account, await self._body(request), rec)
        return _json(wire.order_ack(order))

    async def place_sliced(self, request, account, rec) -> web.Response:
        """No freeze quantity on paper: a sliced order is one order, answered as a list."""
        order = self._place(account, await self._body(request), rec)
        return _json([wire.order_ack(order)])

    async def modify(self, request, account, rec) -> web.Response:
        order_id = request.match_info["order_id"]
        if rec is not None:
            rec["order_id"] = order_id
        body = await self._body(request)
        try:
            req = wire.parse_modify(order_id, body, account.dhan_client_id)
            order = self.x.engine.modify(
                account.id,
                order_id,
                quantity=req.quantity,
                price=req.price,
                trigger_price=req.trigger_price,
                order_type=req.order_type,
                validity=req.validity,
                disclosed_quantity=req.disclosed_quantity,
            )
        except (ValidationError, OrderNotFound) as exc:
            raise DhanError.of(exc) from None
        return _json(wire.order_ack(order))

    async def cancel(self, request, account, rec) -> web.Response:
        order_id = request.match_info["order_id"]
        if rec is not None:
            rec["order_id"] = order_id
        try:
            order = self.x.engine.cancel(account.id, order_id)
        except (ValidationError, OrderNotFound) as exc:
            raise DhanError.of(exc) from None
        return _json(wire.order_ack(order), status=202)

    async def orders(self, request, account, rec) -> web.Response:
        return _json([wire.order_json(o, account.dhan_client_id) for o in self.x.engine.orders(account.id)])

    def _order(self, account: PaperAccount, order_id: str):
        try:
            return self.x.engine.order(account.id, order_id)
        except OrderNotFound as exc:
            raise DhanError.of(exc) from None

    async def order(self, request, account, rec) -> web.Response:
        order = self._order(account, request.match_info["order_id"])
        return _json(wire.order_json(order, account.dhan_client_id))

    async def order_by_correlation(self, request, account, rec) -> web.Response:
        """The latest order placed with that correlationId."""
        corr = request.match_info["correlation_id"]
        found = [o for o in self.x.engine.orders(account.id) if wire.correlation_of(o) == corr]
        if not found:
            raise DhanError.of(OrderNotFound(f"no order with correlationId {corr!r}"))
        return _json(wire.order_json(found[-1], account.dhan_client_id))

    # -- trades, positions, funds -----------------------------------------------------------
    def _trades(self, account: PaperAccount, order_id: str | None) -> list[dict]:
        engine = self.x.engine
        return [
            wire.trade_json(t, engine.order(account.id, t.order_id), account.dhan_client_id)
            for t in engine.trades(account.id, order_id)
        ]

    async def trades(self, request, account, rec) -> web.Response:
        return _json(self._trades(account, None))

    async def order_trades(self, request, account, rec) -> web.Response:
        order = self._order(account, request.match_info["order_id"])
        return _json(self._trades(account, order.order_id))

    async def trade_history(self, request, account, rec) -> web.Response:
        """The paper exchange lives one day: every page past the first is empty."""
        page = request.match_info["page"]
        return _json(self._trades(account, None) if page in ("0", "") else [])

    async def positions(self, request, account, rec) -> web.Response:
        engine = self.x.engine
        return _json(
            [
                wire.position_json(p, engine.books[p.instrument.key].last_price, account.dhan_client_id)
                for p in engine.positions(account.id)
            ]
        )

    async def holdings(self, request, account, rec) -> web.Response:
        return _json([])

    async def funds(self, request, account, rec) -> web.Response:
        return _json(wire.funds_json(self.x.engine.funds(account.id), account.dhan_client_id))

    # -- market quotes ----------------------------------------------------------------------
    async def _quotes(self, request: web.Request, kind: str) -> web.Response:
        try:
            wanted = wire.parse_quote_request(await self._body(request))
        except ValidationError as exc:
            raise DhanError.of(exc) from None
        engine = self.x.engine
        data: dict[str, dict[str, Any]] = {}
        for segment, security_id in wanted:
            inst = engine.by_security_id.get((segment, security_id))
            if inst is None:  # like the real API, unknown instruments are left out
                continue
            entry = wire.quote_json(engine.quote(inst.key), kind, engine.circuit(inst.key))
            data.setdefault(segment, {})[str(security_id)] = entry
        return _json({"data": data, "status": "success"})

    async def ltp(self, request, account, rec) -> web.Response:
        return await self._quotes(request, "ltp")

    async def ohlc(self, request, account, rec) -> web.Response:
        return await self._quotes(request, "ohlc")

    async def quote(self, request, account, rec) -> web.Response:
        return await self._quotes(request, "quote")


async def _not_found(request: web.Request) -> web.Response:
    status, body = wire.error_body(wire.NOT_FOUND, f"No such endpoint: {request.method} {request.path}")
    return _json(body, status)


def setup(app: web.Application, exchange: Exchange) -> None:
    """Register Dhan REST under /v2; a catch-all answers unknown /v2 paths in Dhan's JSON."""
    api = DhanApi(exchange)
    r = app.router
    order, other, quote = "dhan.order", "dhan.other", "dhan.quote"
    r.add_post("/v2/orders", api.route(api.place, order, is_order=True))
    r.add_post("/v2/orders/slicing", api.route(api.place_sliced, order, is_order=True))
    r.add_get("/v2/orders", api.route(api.orders, other))
    r.add_get("/v2/orders/external/{correlation_id}", api.route(api.order_by_correlation, other))
    r.add_get("/v2/orders/{order_id}", api.route(api.order, other))
    r.add_put("/v2/orders/{order_id}", api.route(api.modify, order, is_order=True))
    r.add_delete("/v2/orders/{order_id}", api.route(api.cancel, order, is_order=True))
    r.add_get("/v2/trades", api.route(api.trades, other))
    r.add_get("/v2/trades/", api.route(api.trades, other))  # the SDK's get_trade_book()
    r.add_get("/v2/trades/{order_id}", api.route(api.order_trades, other))
    r.add_get("/v2/trades/{from_date}/{to_date}/{page}", api.route(api.trade_history, other))
    r.add_get("/v2/positions", api.route(api.positions, other))
    r.add_get("/v2/holdings", api.route(api.holdings, other))
    r.add_get("/v2/fundlimit", api.route(api.funds, other))
    r.add_post("/v2/marketfeed/ltp", api.route(api.ltp, quote))
    r.add_post("/v2/marketfeed/ohlc", api.route(api.ohlc, quote))
    r.add_post("/v2/marketfeed/quote", api.route(api.quote, quote))
    r.add_route("*", "/v2/{tail:.*}", _not_found)
