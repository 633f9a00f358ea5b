"""The contract between the paper exchange's server and its front ends.

`Exchange` is all a front end may use of the exchange it serves; `server.PaperExchange`
implements it. `FrontEnd` is what the server needs from a front end; the Kite and Dhan
packages and the admin module are front ends. Front ends import this module, never the
server, so neither side imports the other.

Request keys the server's middleware leaves for the front ends' handlers:
`request.app[EXCHANGE]` (the `Exchange`), `request[RECV_NS]` (monotonic ns: the kernel's
receive stamp of the request's first bytes, see arrival.py) and, for order requests,
`request.get(ORDER_RECORD)` (the recorder's dict of that request: the front end fills in
account / order_id / tag / status / fault).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from .faults import Faults, FaultSpec
from .matching import Engine
from .services import Hub, PaperAccount, RateLimiter, Recorder


class Exchange(Protocol):
    """The services a front end uses: the engine, accounts and credentials, the recorder,
    faults, rate limits, the pub-sub hub, and the exchange's lifetime."""

    engine: Engine
    accounts: list[PaperAccount]
    recorder: Recorder
    faults: Faults
    limiter: RateLimiter
    hub: Hub
    heartbeat_s: float  # idle feed connections get a heartbeat this often

    @property
    def closing(self) -> asyncio.Event:
        """Set when the exchange shuts down: long-lived handlers watch it to finish."""
        ...

    async def hang(self) -> None:
        """Fault `hang`: never answer; returns only when the exchange shuts down."""
        ...

    def account_by_kite(self, api_key: str, access_token: str) -> PaperAccount | None: ...

    def account_by_kite_key(self, api_key: str) -> PaperAccount | None: ...

    def account_by_dhan(self, access_token: str, client_id: str | None = None) -> PaperAccount | None:
        """The account owning `access_token` (and `client_id`, when given)."""
        ...

    def step(self, n: int = 1) -> None:
        """Advance the market `n` steps and notify feed subscribers after each."""
        ...

    def set_faults(self, spec: str | FaultSpec | dict | None) -> None: ...

    def info(self) -> dict:
        """URLs, accounts with their paper credentials, instruments: what `nbexec sim` prints."""
        ...


class FrontEnd(Protocol):
    """One protocol the exchange speaks on its port. A module is one: it defines these names."""

    NAME: str  # names its order requests in the recorder ("kite", "dhan")
    PATHS: tuple[str, ...]  # path prefixes it answers under; "" (the root) takes what no other claims
    ORDER_PATH: str | None  # POST / PUT / DELETE under it are order requests, recorded on arrival

    def setup(self, app: web.Application, exchange: Exchange) -> None:
        """Register its routes (and whatever it keeps per app) on the exchange's app."""
        ...

    def urls(self, http: str, websocket: str) -> dict[str, str]:
        """Its entry points by name, given the exchange's http:// and ws:// base URLs."""
        ...

    def unrouted(self, request: web.Request, exc: web.HTTPException) -> web.Response | None:
        """The answer, in its own envelope, to a request under its PATHS that no route takes
        (404) or takes with another method (405); None leaves aiohttp's own text page."""
        ...


EXCHANGE = web.AppKey("exchange", Exchange)
RECV_NS = web.RequestKey("recv_ns", int)
ORDER_RECORD = web.RequestKey("order_record", dict)
