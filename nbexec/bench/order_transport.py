"""order_transport: 50 accounts' orders at once, over the lean pool vs what a user would use instead.

All clients post the same pre-encoded Kite-style form body to one aiohttp server on loopback,
run in a subprocess so it has its own core and its CPU is not billed to the client. Clients
take turns within each round (rotating who goes first), so they see the same machine state:

* lean_pool: `brokers.transport.ConnectionPool`, warm, one `RequestTemplate` per account.
* httpx: one `httpx.AsyncClient`, its pool warmed by a first round.
* aiohttp: one `aiohttp.ClientSession`, warmed the same way.
* new_connection: the lean bytes, but a fresh TCP connection per order (open, write, read,
  close): what warm pooling alone is worth.

Timed: until all 50 responses are in; and one request's round trip. Every response is checked
(each order's tag echoed back) outside the timed span. `cpu_us_per_request` is this process's
CPU time per request across the 50-at-once rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Protocol

import aiohttp
import httpx

from ..brokers.transport import ConnectionPool, RequestTemplate
from ..brokers.wire import ResponseReader
from ..core.errors import NbexecError
from ..core.secrets import Secret
from .stats import ratio, summary

ACCOUNTS = 50
PATH = "/orders/regular"
FORM = "application/x-www-form-urlencoded"


def order_body(tag: str) -> bytes:
    return (
        b"tradingsymbol=INFY&exchange=NSE&transaction_type=BUY&quantity=1&product=MIS"
        b"&order_type=MARKET&validity=DAY&variety=regular&tag=%s" % tag.encode()
    )


# ------------------------------------------------------------------------- the server (subprocess)


async def _serve() -> None:
    from aiohttp import web

    async def place(request: web.Request) -> web.Response:
        form = await request.read()
        tag = form.rsplit(b"&tag=", 1)[-1].decode()
        return web.Response(
            body=b'{"status":"success","data":{"order_id":"%s"}}' % tag.encode(), content_type="application/json"
        )

    app = web.Application()
    app.router.add_post(PATH, place)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    # Live until the parent closes our stdin (or dies).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def _start_server() -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nbexec.bench.order_transport",
        "--serve",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 30)  # type: ignore[union-attr]  # stdout=PIPE
    if not line.strip().isdigit():
        proc.kill()
        raise NbexecError(f"order_transport bench: server did not start (said {line!r})")
    return proc, int(line)


# ------------------------------------------------------------------------- the clients


class _Client(Protocol):
    name: str

    async def start(self) -> None: ...

    async def send(self, account: int, body: bytes) -> bytes: ...

    async def close(self) -> None: ...


def _templates(port: int, tokens: list[str]) -> list[RequestTemplate]:
    """One place-order template per account, as an adapter builds them at start."""
    headers: list[dict[str, str | Secret]] = [
        {"X-Kite-Version": "3", "Authorization": Secret(f"token key{i}:{t}")} for i, t in enumerate(tokens)
    ]
    return [RequestTemplate("POST", PATH, f"127.0.0.1:{port}", content_type=FORM, headers=h) for h in headers]


class Lean:
    name = "lean_pool"

    def __init__(self, port: int, tokens: list[str]) -> None:
        self.pool = ConnectionPool("127.0.0.1", port, size=ACCOUNTS, max_size=ACCOUNTS, broker="bench")
        self.templates = _templates(port, tokens)

    async def start(self) -> None:
        await self.pool.start()

    async def send(self, account: int, body: bytes) -> bytes:
        return (await self.pool.request(self.templates[account], body)).body

    async def close(self) -> None:
        await self.pool.close()


class NewConnection:
    name = "new_connection"

    def __init__(self, port: int, tokens: list[str]) -> None:
        self.port, self.templates = port, _templates(port, tokens)

    async def start(self) -> None:
        pass

    async def send(self, account: int, body: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(self.templates[account].render(body))
            framer = ResponseReader()
            while True:
                data = await reader.read(65536)
                if not data:
                    raise NbexecError("order_transport bench: server closed before answering")
                if framer.feed(data):
                    return framer.take().body
        finally:
            writer.close()

    async def close(self) -> None:
        pass


class _Http:
    """The HTTP libraries' clients: the URL, each account's headers, a warm-up round."""

    def __init__(self, port: int, tokens: list[str]) -> None:
        self.url = f"http://127.0.0.1:{port}{PATH}"
        self.headers = [
            {"X-Kite-Version": "3", "Authorization": f"token key{i}:{t}", "Content-Type": FORM}
            for i, t in enumerate(tokens)
        ]

    async def start(self) -> None:
        await asyncio.gather(*(self.send(i, order_body(f"warm{i}")) for i in range(ACCOUNTS)))

    async def send(self, account: int, body: bytes) -> bytes:
        raise NotImplementedError


class Httpx(_Http):
    name = "httpx"

    def __init__(self, port: int, tokens: list[str]) -> None:
        super().__init__(port, tokens)
        self.client = httpx.AsyncClient(
            trust_env=False, limits=httpx.Limits(max_connections=ACCOUNTS, max_keepalive_connections=ACCOUNTS)
        )

    async def send(self, account: int, body: bytes) -> bytes:
        return (await self.client.post(self.url, content=body, headers=self.headers[account])).content

    async def close(self) -> None:
        await self.client.aclose()


class Aiohttp(_Http):
    name = "aiohttp"
    client: aiohttp.ClientSession  # made in start, on the loop

    async def start(self) -> None:
        self.client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=ACCOUNTS), trust_env=False)
        await super().start()

    async def send(self, account: int, body: bytes) -> bytes:
        async with self.client.post(self.url, data=body, headers=self.headers[account]) as r:
            return await r.read()

    async def close(self) -> None:
        await self.client.close()


# ------------------------------------------------------------------------- measuring


def _check(bodies: list[bytes], tags: list[str], client: str) -> None:
    for body, tag in zip(bodies, tags, strict=True):
        got = json.loads(body)["data"]["order_id"]
        if got != tag:
            raise NbexecError(f"order_transport bench: {client} got the answer for {got!r} to {tag!r}")


async def _fan_out(client: _Client, round_no: int) -> tuple[float, float]:
    tags = [f"r{round_no}a{i}" for i in range(ACCOUNTS)]
    bodies = [order_body(t) for t in tags]
    cpu0, t0 = time.process_time(), time.perf_counter_ns()
    answers = await asyncio.gather(*(client.send(i, b) for i, b in enumerate(bodies)))
    t1, cpu1 = time.perf_counter_ns(), time.process_time()
    _check(answers, tags, client.name)
    return (t1 - t0) / 1e3, (cpu1 - cpu0) * 1e6


async def _one(client: _Client, n: int) -> float:
    tag = f"one{n}"
    t0 = time.perf_counter_ns()
    answer = await client.send(n % ACCOUNTS, order_body(tag))
    t1 = time.perf_counter_ns()
    _check([answer], [tag], client.name)
    return (t1 - t0) / 1e3


async def run(quick: bool) -> dict:
    rounds, singles = (10, 100) if quick else (200, 3000)
    load_before = os.getloadavg()[0]
    proc, port = await _start_server()
    tokens = [f"{i:032x}" for i in range(ACCOUNTS)]
    clients: list[_Client] = [
        Lean(port, tokens),
        Httpx(port, tokens),
        Aiohttp(port, tokens),
        NewConnection(port, tokens),
    ]
    try:
        for c in clients:
            await c.start()
        fan: dict[str, list[float]] = {c.name: [] for c in clients}
        cpu = {c.name: 0.0 for c in clients}
        one: dict[str, list[float]] = {c.name: [] for c in clients}
        for r in range(rounds + 2):  # the first two rounds warm up, not counted
            for k in range(len(clients)):
                c = clients[(r + k) % len(clients)]
                elapsed, cpu_us = await _fan_out(c, r)
                if r >= 2:
                    fan[c.name].append(elapsed)
                    cpu[c.name] += cpu_us
        for n in range(singles):
            for k in range(len(clients)):
                c = clients[(n + k) % len(clients)]
                one[c.name].append(await _one(c, n))
    finally:
        for c in clients:
            await c.close()
        proc.stdin.close()  # type: ignore[union-attr]  # stdin=PIPE
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    fifty = {name: summary(s, "us") for name, s in fan.items()}
    lean = fifty["lean_pool"]["p50"]
    return {
        "fifty_concurrent_all_answered": fifty,
        "one_round_trip": {name: summary(s, "us") for name, s in one.items()},
        "cpu_us_per_request": {name: total / (rounds * ACCOUNTS) for name, total in cpu.items()},
        "p50_ratio_over_lean": {name: ratio(s["p50"], lean) for name, s in fifty.items() if name != "lean_pool"},
        "accounts": ACCOUNTS,
        "rounds": rounds,
        "server": "aiohttp, own process, loopback",
        # Other work on this 2-core machine slows every client alike; the figure says how much.
        "load_average_1m_before": load_before,
    }


def main(argv: list[str]) -> None:
    if "--serve" in argv:
        asyncio.run(_serve())
        return
    from .runner import format_table

    print(format_table(asyncio.run(run(quick="--full" not in argv))))


if __name__ == "__main__":
    main(sys.argv[1:])
