"""Kite Connect v3 REST of the paper exchange (docs/protocols/kite.md), at the root.

Thin: parse Kite's form / query fields, check token, rate limit and faults, call the engine,
render with `format`. Every response carries a Content-Type and every error a string
`error_type` naming an SDK exception class, so the official SDK raises the right exception.
"""

from __future__ import annotations

import hashlib
import json

from aiohttp import web

from nbexec.core.errors import OrderNotFound, ValidationError

from ..exchange import ORDER_RECORD, Exchange
from ..services import PaperAccount
from . import format as fmt

_VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
_FAULT_STATUS = {
    "500": (500, "GeneralException", "Internal server error"),
    "502": (502, "DataException", "Couldn't reach the OMS"),
    "503": (503, "NetworkException", "Service unavailable"),
    "429": (429, "NetworkException", "Too many requests"),
}


def _json(data, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data, separators=(",", ":")).encode(), content_type="application/json"
    )


def ok(data) -> web.Response:
    return _json({"status": "success", "data": data})


def error(status: int, error_type: str, message: str) -> web.Response:
    return _json({"status": "error", "message": message, "error_type": error_type, "data": None}, status)


def unrouted(request: web.Request, exc: web.HTTPException) -> web.Response:
    """A path or method no route takes, in Kite's envelope: the SDK cannot read aiohttp's
    text/plain pages."""
    return error(
        exc.status,
        "GeneralException" if exc.status == 404 else "InputException",
        f"{exc.reason}: {request.method} {request.path}",
    )


class KiteError(Exception):
    """Raised inside handlers; rendered as Kite's error envelope."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _input_error(exc: ValidationError) -> KiteError:
    name = fmt.KITE_FIELD.get(exc.field, exc.field)
    return KiteError(400, "InputException", f"Invalid `{name}`: {exc.reason} (got {exc.value!r})")


class KiteApi:
    """Handlers bound to one exchange; `route` wraps each with auth, limits and faults."""

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange

    def authenticate(self, request: web.Request) -> PaperAccount:
        header = request.headers.get("Authorization", "")
        scheme, _, cred = header.partition(" ")
        api_key, _, token = cred.partition(":")
        account = self.x.account_by_kite(api_key, token) if scheme == "token" else None
        if account is None:
            raise KiteError(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        return account

    def route(self, handler, limit_class: str, is_order: bool = False):
        async def wrapped(request: web.Request) -> web.Response:
            rec = request.get(ORDER_RECORD)
            try:
                account = self.authenticate(request)
                if rec is not None:
                    rec["account"] = account.id
                if not self.x.limiter.check(account.kite_access_token, limit_class):
                    raise KiteError(429, "NetworkException", "Too many requests")
                fault = self.x.faults.rest(is_order)
                if fault and rec is not None:
                    rec["fault"] = fault
                if fault in _FAULT_STATUS:
                    raise KiteError(*_FAULT_STATUS[fault])
                response = await handler(request, account, rec)
                if fault == "hang":
                    await self.x.hang()
                elif fault == "reset" and request.transport is not None:
                    request.transport.abort()
                return response
            except KiteError as e:
                if rec is not None:
                    rec["status"] = e.status
                return error(e.status, e.error_type, e.message)

        return wrapped

    # -- session ----------------------------------------------------------------------------
    async def session_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        api_key, request_token = str(form.get("api_key", "")), str(form.get("request_token", ""))
        account = self.x.account_by_kite_key(api_key)
        if account is None:
            return error(403, "TokenException", "Invalid `api_key`.")
        if not request_token:
            return error(400, "InputException", "Missing `request_token`.")
        want = hashlib.sha256(f"{api_key}{request_token}{account.kite_api_secret}".encode()).hexdigest()
        if form.get("checksum") != want:
            return error(403, "TokenException", "Invalid `checksum`.")
        return ok(
            {
                **self._profile(account),
                "api_key": api_key,
                "access_token": account.kite_access_token,
                "public_token": account.kite_access_token[:16],
                "enctoken": "",
                "refresh_token": "",
                "login_time": fmt.kite_time(self.x.engine.clock()),
                "meta": {"demat_consent": "physical"},
            }
        )

    async def session_delete(self, request: web.Request) -> web.Response:
        return ok(True)

    @staticmethod
    def _profile(account: PaperAccount) -> dict:
        return {
            "user_id": account.id,
            "user_name": f"Paper {account.id}",
            "user_shortname": account.id,
            "email": f"{account.id.lower()}@paper.invalid",
            "user_type": "individual",
            "broker": "PAPER",
            "exchanges": ["NSE", "BSE"],
            "products": ["CNC", "MIS", "NRML"],
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
            "avatar_url": None,
        }

    async def profile(self, request, account, rec) -> web.Response:
        return ok(self._profile(account))

    # -- orders -----------------------------------------------------------------------------
    def _variety(self, request: web.Request) -> str:
        variety = request.match_info["variety"]
        if variety not in _VARIETIES:
            raise KiteError(405, "InputException", f"Invalid variety `{variety}`.")
        if variety != "regular":
            raise KiteError(
                400, "InputException", f"The paper exchange supports only the regular variety, not `{variety}`."
            )
        return variety

    @staticmethod
    def _num(form, name: str, cast, default=None):
        raw = form.get(name)
        if raw in (None, ""):
            return default
        try:
            return cast(raw)
        except ValueError:
            raise KiteError(400, "InputException", f"Invalid `{name}`: not a number (got {raw!r})") from None

    async def place(self, request, account, rec) -> web.Response:
        variety = self._variety(request)
        form = await request.post()
        for name in ("tradingsymbol", "exchange", "transaction_type", "quantity", "product", "order_type"):
            if not form.get(name):
                raise KiteError(400, "InputException", f"Missing or empty field `{name}`.")
        instrument = self._instrument_key(form["exchange"], form["tradingsymbol"])
        tag = form.get("tag") or None
        if rec is not None:
            rec["tag"] = tag
        try:
            order = self.x.engine.place(
                account.id,
                instrument,
                form["transaction_type"],
                self._num(form, "quantity", int),
                order_type=form["order_type"],
                price=self._num(form, "price", float, 0.0),
                trigger_price=self._num(form, "trigger_price", float, 0.0),
                product=form["product"],
                validity=form.get("validity") or "DAY",
                tag=tag,
                market_protection=self._num(form, "market_protection", float, 0.0),
                disclosed_quantity=self._num(form, "disclosed_quantity", int, 0),
                variety=variety,
            )
        except ValidationError as exc:
            raise _input_error(exc) from None
        if rec is not None:
            rec["order_id"], rec["status"] = order.order_id, 200
        return ok({"order_id": order.order_id})

    def _instrument_key(self, exchange: str, symbol: str) -> str:
        key = f"{exchange.upper()}:{symbol}"
        if key not in self.x.engine.instruments and f"INDICES:{symbol}" in self.x.engine.instruments:
            return f"INDICES:{symbol}"
        return key

    async def modify(self, request, account, rec) -> web.Response:
        self._variety(request)
        order_id = request.match_info["order_id"]
        form = await request.post()
        if rec is not None:
            rec["order_id"] = order_id
        try:
            order = self.x.engine.modify(
                account.id,
                order_id,
                quantity=self._num(form, "quantity", int),
                price=self._num(form, "price", float),
                trigger_price=self._num(form, "trigger_price", float),
                order_type=form.get("order_type") or None,
                validity=form.get("validity") or None,
                disclosed_quantity=self._num(form, "disclosed_quantity", int),
            )
        except OrderNotFound:
            raise KiteError(400, "InputException", "Couldn't find that `order_id`.") from None
        except ValidationError as exc:
            raise _input_error(exc) from None
        if rec is not None:
            rec["status"] = 200
        return ok({"order_id": order.order_id})

    async def cancel(self, request, account, rec) -> web.Response:
        self._variety(request)
        order_id = request.match_info["order_id"]
        if rec is not None:
            rec["order_id"] = order_id
        try:
            order = self.x.engine.cancel(account.id, order_id)
        except OrderNotFound:
            raise KiteError(400, "InputException", "Couldn't find that `order_id`.") from None
        except ValidationError as exc:
            raise _input_error(exc) from None
        if rec is not None:
            rec["status"] = 200
        return ok({"order_id": order.order_id})

    async def orders(self, request, account, rec) -> web.Response:
        return ok([fmt.order_dict(o) for o in self.x.engine.orders(account.id)])

    def _order(self, account, order_id: str):
        try:
            return self.x.engine.order(account.id, order_id)
        except OrderNotFound:
            raise KiteError(400, "InputException", "Couldn't find that `order_id`.") from None

    async def order_history(self, request, account, rec) -> web.Response:
        return ok(fmt.history_dicts(self._order(account, request.match_info["order_id"])))

    async def order_trades(self, request, account, rec) -> web.Response:
        order = self._order(account, request.match_info["order_id"])
        return ok([fmt.trade_dict(t) for t in self.x.engine.trades(account.id, order.order_id)])

    async def trades(self, request, account, rec) -> web.Response:
        return ok([fmt.trade_dict(t) for t in self.x.engine.trades(account.id)])

    # -- portfolio and funds ----------------------------------------------------------------
    async def positions(self, request, account, rec) -> web.Response:
        engine = self.x.engine
        rows = []
        for p in engine.positions(account.id):
            book = engine.books[p.instrument.key]
            rows.append(fmt.position_dict(p, book.last_price, book.price(book.close_t)))
        return ok({"net": rows, "day": [dict(r) for r in rows]})

    async def holdings(self, request, account, rec) -> web.Response:
        return ok([])

    async def margins(self, request, account, rec) -> web.Response:
        segment = request.match_info.get("segment")
        if segment not in (None, "equity", "commodity"):
            raise KiteError(400, "InputException", f"Invalid segment `{segment}`.")
        return ok(fmt.margins_dict(self.x.engine.funds(account.id), segment))

    # -- market data ------------------------------------------------------------------------
    def _quotes(self, request: web.Request, kind: str) -> web.Response:
        engine = self.x.engine
        keys = request.query.getall("i", [])
        if not keys:
            raise KiteError(400, "InputException", "Missing or empty field `i`.")
        out = {}
        for key in keys:
            exchange, _, symbol = key.partition(":")
            ikey = self._instrument_key(exchange, symbol)
            inst = engine.instruments.get(ikey)
            if inst is not None:  # Kite silently leaves out instruments it does not know
                out[key] = fmt.quote_dict(inst, engine.quote(ikey), kind, engine.circuit(ikey))
        return ok(out)

    async def quote(self, request, account, rec) -> web.Response:
        return self._quotes(request, "quote")

    async def ohlc(self, request, account, rec) -> web.Response:
        return self._quotes(request, "ohlc")

    async def ltp(self, request, account, rec) -> web.Response:
        return self._quotes(request, "ltp")

    async def instruments(self, request: web.Request) -> web.Response:
        """Public, like Kite's dump (no auth needed)."""
        exchange = request.match_info.get("exchange")
        engine = self.x.engine
        rows = [
            (i, engine.books[i.key].last_price)
            for i in engine.instruments.values()
            if exchange is None or fmt.kite_exchange(i) == exchange.upper()
        ]
        return web.Response(text=fmt.instruments_csv(rows), content_type="text/csv")


def setup(app: web.Application, exchange: Exchange) -> None:
    """Register the Kite REST routes at the root."""
    api = KiteApi(exchange)
    r = app.router
    r.add_post("/session/token", api.session_token)
    r.add_delete("/session/token", api.session_delete)
    r.add_get("/user/profile", api.route(api.profile, "kite.other"))
    r.add_get("/user/margins", api.route(api.margins, "kite.other"))
    r.add_get("/user/margins/{segment}", api.route(api.margins, "kite.other"))
    r.add_post("/orders/{variety}", api.route(api.place, "kite.order", is_order=True))
    r.add_put("/orders/{variety}/{order_id}", api.route(api.modify, "kite.order", is_order=True))
    r.add_delete("/orders/{variety}/{order_id}", api.route(api.cancel, "kite.order", is_order=True))
    r.add_get("/orders", api.route(api.orders, "kite.other"))
    r.add_get("/orders/{order_id}", api.route(api.order_history, "kite.other"))
    r.add_get("/orders/{order_id}/trades", api.route(api.order_trades, "kite.other"))
    r.add_get("/trades", api.route(api.trades, "kite.other"))
    r.add_get("/portfolio/positions", api.route(api.positions, "kite.other"))
    r.add_get("/portfolio/holdings", api.route(api.holdings, "kite.other"))
    r.add_get("/quote", api.route(api.quote, "kite.quote"))
    r.add_get("/quote/ohlc", api.route(api.ohlc, "kite.quote"))
    r.add_get("/quote/ltp", api.route(api.ltp, "kite.quote"))
    r.add_get("/instruments", api.instruments)
    r.add_get("/instruments/{exchange}", api.instruments)
