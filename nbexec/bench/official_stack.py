"""What a user would run instead of nbexec: the official `kiteconnect` SDK, in a process of its own.

One `KiteConnect` client (requests.Session, warmed with one call) per paper account, and a
`KiteTicker` on INFY in full mode whose `on_ticks` callback places the orders, one account after
another, in the ticker's own thread, as the SDK's examples do. Its own process because
Twisted's reactor is process-global and cannot restart, and so it shares neither the engine's
loop nor its GIL. The parent drives it with JSON lines on stdin (`OfficialStack`):

  {"cmd": "place", "accounts": [i, ...], "tags": [...], "price": p}  -> places now
  {"cmd": "arm", ...same fields...}   -> {"armed": true}; the next INFY tick places them
  {"cmd": "quit"}

Each placing answers {"t_tick": ns (callback entry, 0 for "place"), "t0": ns, "t1": ns, "ids": [...]}:
monotonic ns around the sequential loop, on the same clock as the exchange's stamps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time

from ..core.errors import NbexecError


def sdk_clients(info: dict) -> list:
    """One official `KiteConnect` per paper account, against the paper exchange."""
    from kiteconnect import KiteConnect

    return [
        KiteConnect(api_key=a["kite_api_key"], access_token=a["kite_access_token"], root=info["kite_rest"])
        for a in info["accounts"]
    ]


def sdk_place(kc, tag: str, price: float, quantity: int = 1) -> str:
    """One official place_order of the benches' resting LIMIT buy of INFY."""
    return kc.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=quantity,
        product="MIS",
        order_type="LIMIT",
        price=price,
        tag=tag,
    )


class OfficialStack:
    """Parent side: the worker process and its line protocol."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, info: dict, token: int, ticker: bool = True) -> OfficialStack:
        """Spawn the worker; returns once every client is warm (and the ticker subscribed)."""
        config = json.dumps({"info": info, "token": token, "ticker": ticker})
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nbexec.bench.official_stack",
            config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        stack = cls(proc)
        try:
            await stack._answer(60)
        except BaseException:
            await stack.close()
            raise
        return stack

    async def _answer(self, timeout: float = 20) -> dict:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)  # type: ignore[union-attr]  # stdout=PIPE
        try:
            answer = json.loads(line)
        except ValueError:
            raise NbexecError(f"the official SDK worker said {line[:300]!r}") from None
        if "error" in answer:
            raise NbexecError(f"the official SDK worker failed: {answer['error']}")
        return answer

    async def _send(self, command: dict) -> None:
        stdin: asyncio.StreamWriter = self.proc.stdin  # type: ignore[assignment]  # stdin=PIPE
        stdin.write(json.dumps(command).encode() + b"\n")
        await stdin.drain()

    async def place(self, accounts: list[int], tags: list[str], price: float) -> dict:
        await self._send({"cmd": "place", "accounts": accounts, "tags": tags, "price": price})
        return await self._answer()

    async def arm(self, accounts: list[int], tags: list[str], price: float) -> None:
        """Place these orders on the next INFY tick; returns once armed (collect with `placed`)."""
        await self._send({"cmd": "arm", "accounts": accounts, "tags": tags, "price": price})
        await self._answer()

    async def placed(self) -> dict:
        return await self._answer()

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                await self._send({"cmd": "quit"})
                await asyncio.wait_for(self.proc.wait(), 10)
            except (OSError, asyncio.TimeoutError):
                self.proc.kill()
                await self.proc.wait()


def _worker(config: dict) -> None:
    """The worker process: warm clients, a subscribed ticker, commands from stdin."""
    info, token = config["info"], config["token"]
    clients = sdk_clients(info)
    lock = threading.Lock()
    armed: list[dict] = []

    def emit(obj: dict) -> None:
        with lock:
            print(json.dumps(obj), flush=True)

    def place_all(command: dict, t_tick: int) -> None:
        try:
            t0 = time.monotonic_ns()
            ids = [
                sdk_place(clients[i], tag, command["price"])
                for i, tag in zip(command["accounts"], command["tags"], strict=True)
            ]
            emit({"t_tick": t_tick, "t0": t0, "t1": time.monotonic_ns(), "ids": ids})
        except Exception as exc:  # reported to the parent, which raises it
            emit({"error": f"{type(exc).__name__}: {exc}"})

    for kc in clients:
        kc.margins()  # a warm connection per client, as a desk has before its first signal
    kws = None
    if config["ticker"]:
        from kiteconnect import KiteTicker

        connected = threading.Event()
        kws = KiteTicker(
            info["accounts"][0]["kite_api_key"], info["accounts"][0]["kite_access_token"], root=info["kite_ws"]
        )

        def on_connect(ws, response) -> None:
            ws.subscribe([token])
            ws.set_mode(ws.MODE_FULL, [token])
            connected.set()

        def on_ticks(ws, ticks: list[dict]) -> None:
            t_tick = time.monotonic_ns()
            if armed and any(t["instrument_token"] == token for t in ticks):
                place_all(armed.pop(), t_tick)

        kws.on_connect, kws.on_ticks = on_connect, on_ticks
        kws.connect(threaded=True)
        if not connected.wait(20):
            emit({"error": "KiteTicker did not connect within 20 s"})
            return
    emit({"ready": True})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            if command["cmd"] == "arm":
                armed.append(command)
                emit({"armed": True})
            else:
                place_all(command, 0)
    finally:
        if kws is not None:
            from twisted.internet import reactor

            logging.getLogger("kiteconnect").setLevel(logging.CRITICAL)  # the close is ours
            kws.close()
            reactor.callFromThread(reactor.stop)  # type: ignore[misc]  # mypy reads twisted's reactor.stop as unbound


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
