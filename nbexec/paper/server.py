"""`PaperExchange`: the matching engine and its services behind the front ends it is given.

One aiohttp Application on one port serves every front end (their paths: docs/design.md, The
paper exchange).
The server knows none of them: each is an `exchange.FrontEnd` (the default ones, Kite, Dhan
and admin, are `nbexec.paper.FRONT_ENDS`) that registers its routes in `setup(app, exchange)`
and uses only the `exchange.Exchange` interface, which this class implements. What the server
takes from them: their URLs, which requests are order requests (recorded on arrival), and how
each answers a request no route takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .arrival import StampedSocket, listening_socket
from .exchange import EXCHANGE, ORDER_RECORD, RECV_NS, FrontEnd
from .faults import Faults, FaultSpec
from .matching import Engine
from .services import Hub, PaperAccount, RateLimiter, Recorder, make_accounts
from .universe import build_universe

log = logging.getLogger(__name__)

_MUTATING = frozenset({"POST", "PUT", "DELETE"})


class _StampingHandler(RequestHandler):
    """aiohttp's connection protocol, noting when the first bytes of a request arrived.

    The stamp is the kernel's, of the packet those bytes came in (`arrival.py`): neither
    the body's parsing nor the exchange's handling of the requests that came before it (the
    other 49 orders of a fan-out) is billed to the client. Clients here send one request per
    connection at a time (no pipelining).
    """

    __slots__ = ("arrived_ns",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.arrived_ns: int | None = None

    def data_received(self, data: bytes) -> None:
        if data and self.arrived_ns is None:  # aiohttp also calls this with b"" after a request
            self.arrived_ns = StampedSocket.last_arrival_ns  # of the read that brought `data`
        super().data_received(data)


class _StampingServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _StampingHandler(self, loop=self._loop, **self._kwargs)


def _middleware(recorder: Recorder, front_ends: Sequence[FrontEnd]):
    """The one middleware: stamps every request with its arrival, before anything reads the
    body (wire-to-wire latency); records the front ends' order requests; and lets the front
    end owning a path answer what no route takes (the longest of their PATHS that matches)."""
    order_paths = tuple((f.ORDER_PATH, f.NAME) for f in front_ends if f.ORDER_PATH)
    owners = sorted(((path, f) for f in front_ends for path in f.PATHS), key=lambda owner: -len(owner[0]))

    @web.middleware
    async def stamp(request: web.Request, handler):
        recv_ns = getattr(request.protocol, "arrived_ns", None) or time.monotonic_ns()
        try:
            return await stamped(request, handler, recv_ns)
        finally:
            # Handled (body read, answer not yet written): the next bytes are the next request's.
            # Cleared here, not when read, because a body may arrive after its head (urllib3).
            request.protocol.arrived_ns = None  # type: ignore[attr-defined]  # a _StampingHandler (see start)

    async def stamped(request: web.Request, handler, recv_ns: int):
        request[RECV_NS] = recv_ns
        if request.method in _MUTATING:
            path = request.path
            for prefix, name in order_paths:
                if path.startswith(prefix):
                    request[ORDER_RECORD] = recorder.order_request(recv_ns, name, request.method, path)
                    break
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            owner = next((f for path, f in owners if request.path.startswith(path)), None)
            answer = owner.unrouted(request, exc) if owner is not None else None
            if answer is None:
                raise
            return answer

    return stamp


class PaperExchange:
    """The paper exchange as an async context manager; `info()` is what `nbexec sim` prints.

    front_ends: what it serves (`nbexec.paper.FRONT_ENDS`: Kite, Dhan and the admin API).
    accounts: a count or a list of `PaperAccount`. symbols: names for `build_universe` (None =
    default NSE names plus NIFTY 50). tick_rate: market steps per second (0 = only on
    `step()` / `POST /admin/step`, for deterministic tests). rate_limits: None = the brokers'
    published limits (`services.DEFAULT_RATE_LIMITS`), False = off, or a dict overriding
    classes. faults: a spec (see `faults.py`).
    record_limit: how many order requests and feed frames the admin recorder keeps (newest).
    """

    def __init__(
        self,
        front_ends: Sequence[FrontEnd],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: int | Iterable[PaperAccount] = 1,
        symbols: Iterable[str] | None = None,
        tick_rate: float = 10.0,
        seed: int = 0,
        faults: str | FaultSpec | dict | None = None,
        rate_limits: dict | bool | None = None,
        cash: float = 10_000_000.0,
        circuit_pct: float = 20.0,
        heartbeat_s: float = 1.0,
        record_limit: int = 200_000,
    ) -> None:
        self.front_ends = tuple(front_ends)
        self.host, self.port = host, port
        self.seed = seed
        self.tick_rate = tick_rate
        self.heartbeat_s = heartbeat_s
        self.accounts: list[PaperAccount] = (
            make_accounts(accounts, seed, cash) if isinstance(accounts, int) else list(accounts)
        )
        self.engine = Engine(build_universe(list(symbols) if symbols else None), seed=seed, circuit_pct=circuit_pct)
        for a in self.accounts:
            self.engine.add_account(a.id, a.cash)
        self._by_kite = {(a.kite_api_key, a.kite_access_token): a for a in self.accounts}
        self._by_kite_key = {a.kite_api_key: a for a in self.accounts}
        self._by_dhan = {a.dhan_access_token: a for a in self.accounts}
        self.recorder = Recorder(record_limit)
        self.faults = Faults(faults, seed)
        self.limiter = RateLimiter(
            rate_limits if isinstance(rate_limits, dict) else None, enabled=rate_limits is not False
        )
        self.hub = Hub()
        self.engine.listeners.append(self.hub.publish_order)
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._tick_task: asyncio.Task | None = None
        self._closing = asyncio.Event()

    # -- credentials ------------------------------------------------------------------------
    def account_by_kite(self, api_key: str, access_token: str) -> PaperAccount | None:
        return self._by_kite.get((api_key, access_token))

    def account_by_kite_key(self, api_key: str) -> PaperAccount | None:
        return self._by_kite_key.get(api_key)

    def account_by_dhan(self, access_token: str, client_id: str | None = None) -> PaperAccount | None:
        """The account owning `access_token` (and `client_id`, when given)."""
        a = self._by_dhan.get(access_token)
        if a is None or (client_id is not None and client_id != a.dhan_client_id):
            return None
        return a

    # -- lifecycle --------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[_middleware(self.recorder, self.front_ends)], client_max_size=1 << 20)
        app[EXCHANGE] = self
        for front_end in self.front_ends:
            front_end.setup(app, self)
        return app

    async def start(self) -> PaperExchange:
        self._closing.clear()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._runner.server.__class__ = _StampingServer  # same layout, stamping connections
        listener = listening_socket(self.host, self.port)
        self.port = listener.getsockname()[1]  # the real port when 0 was asked
        await web.SockSite(self._runner, listener).start()
        if self.tick_rate > 0:
            self._tick_task = asyncio.create_task(self._tick_loop(), name="paper-ticks")
        log.info("paper exchange listening on %s:%d", self.host, self.port)
        return self

    async def close(self) -> None:
        self._closing.set()  # releases hung requests and ends WebSocket loops
        if self._tick_task:
            self._tick_task.cancel()
            try:
                await self._tick_task
            except asyncio.CancelledError:
                pass
            self._tick_task = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PaperExchange:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def closing(self) -> asyncio.Event:
        """Set when the exchange shuts down: long-lived handlers watch it to finish."""
        return self._closing

    async def hang(self) -> None:
        """Fault `hang`: never answer; returns only when the exchange shuts down."""
        await self._closing.wait()

    # -- the market -------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance every instrument `n` steps and notify feed subscribers after each."""
        for _ in range(n):
            self.hub.publish_ticks(self.engine.step())

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.tick_rate
        due = loop.time()
        while True:
            self.step()
            due += period
            delay = due - loop.time()
            if delay < -2 * period:
                # Far behind (overload): skip the missed steps rather than burst through them.
                due = loop.time()
            # Even when a little late, yield: the feeds woken by this step send it first.
            await asyncio.sleep(max(0.0, delay))

    def set_faults(self, spec: str | FaultSpec | dict | None) -> None:
        self.faults.set(spec, self.seed)

    # -- what `nbexec sim` prints -----------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def urls(self) -> dict[str, str]:
        """Every front end's entry points by name, in the order the front ends were given."""
        http, websocket = self.base_url, f"ws://{self.host}:{self.port}"
        return {name: url for front_end in self.front_ends for name, url in front_end.urls(http, websocket).items()}

    def info(self) -> dict:
        instruments = [
            {
                "key": i.key,
                "exchange": i.exchange,
                "tradingsymbol": i.symbol,
                "instrument_token": i.kite_token,
                "exchange_token": i.exchange_token,
                "dhan_segment": i.dhan_segment,
                "security_id": i.security_id,
                "tick_size": i.tick_size,
                "lot_size": i.lot_size,
            }
            for i in self.engine.instruments.values()
        ]
        return {**self.urls(), "accounts": [a.public() for a in self.accounts], "instruments": instruments}
