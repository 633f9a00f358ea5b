"""paper_load: can the paper exchange carry a desk's load? Orders from 50 accounts, ticks to 3 feeds.

The exchange runs as `nbexec sim` in its own process (as users run it), so this process's
load generator and the exchange each get one of the machine's cores. Two phases:

1. orders: open-loop Kite `POST /orders/regular` from 50 accounts at a target rate (1,000/s),
   over warm keep-alive connections; achieved rate, answers, client latency, and the rate at
   which the exchange stamped arrivals (admin /requests);
2. ticks: 3 raw WebSocket subscribers in full mode on every instrument; symbols x step rate
   sized for 20,000 ticks/s per subscriber; packets counted from each frame's header.

Rate limits are off (`--no-rate-limits`): 1,000 orders/s over 50 accounts is 20/s per token,
above Kite's 10/s. Reported with the exchange process's CPU use (from /proc).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import struct
import sys
import time

import aiohttp

from .stats import summary

ACCOUNTS = 50
ORDER_RATE = 1_000
SUBSCRIBERS = 3
TICK_TARGET = 20_000
SYMBOLS = 200
STEP_HZ = TICK_TARGET / SYMBOLS  # every instrument ticks at each step: 100 steps/s


async def run(quick: bool) -> dict:
    seconds = 2.0 if quick else 10.0
    symbols = [f"SYM{i:03d}" for i in range(SYMBOLS)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nbexec.cli.sim",
        "--accounts",
        str(ACCOUNTS),
        "--tick-rate",
        str(STEP_HZ),
        "--no-rate-limits",
        "--seed",
        "1",
        "--symbols",
        *symbols,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,  # the info line lists every instrument
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    try:
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))  # type: ignore[union-attr]  # stdout=PIPE
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            orders = await _orders(session, info, proc.pid, seconds)
        ticks = await _ticks(info, proc.pid, seconds)
        return {"orders": orders, "ticks": ticks}
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def _own_cpu_seconds() -> float:
    """This process's CPU seconds: the load generator's side of the 2 cores."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _orders(session: aiohttp.ClientSession, info: dict, pid: int, seconds: float) -> dict:
    url = info["kite_rest"] + "/orders/regular"
    accounts = info["accounts"]
    headers = [
        {"X-Kite-Version": "3", "Authorization": f"token {a['kite_api_key']}:{a['kite_access_token']}"}
        for a in accounts
    ]
    symbol = info["instruments"][0]["tradingsymbol"]
    bodies = [
        f"variety=regular&exchange=NSE&tradingsymbol={symbol}&transaction_type={side}&quantity=1"
        f"&product=MIS&order_type=MARKET".encode()
        for side in ("BUY", "SELL")
    ]
    latencies: list[float] = []
    answers: dict[int, int] = {}

    async def one(i: int) -> None:
        started = time.perf_counter()
        try:
            async with session.post(
                url,
                data=bodies[i % 2],
                headers={**headers[i % len(headers)], "Content-Type": "application/x-www-form-urlencoded"},
            ) as r:
                await r.read()
                answers[r.status] = answers.get(r.status, 0) + 1
        except aiohttp.ClientError:
            answers[-1] = answers.get(-1, 0) + 1
        latencies.append((time.perf_counter() - started) * 1000)

    # warm one connection per account first (a desk connects before the first signal)
    await asyncio.gather(*(one(i) for i in range(len(accounts))))
    latencies.clear()
    answers.clear()
    async with session.get(info["admin"] + "/requests") as r:
        since = (await r.json())["last"]

    cpu0, own0, t0 = _cpu_seconds(pid), _own_cpu_seconds(), time.perf_counter()
    total = int(ORDER_RATE * seconds)
    batch = 10  # 10 requests every 10 ms: open loop, no waiting
    tasks: list[asyncio.Task[None]] = []
    for n in range(0, total, batch):
        due = t0 + n / ORDER_RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.extend(asyncio.create_task(one(n + k)) for k in range(batch))
    sent_in = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu, own = _cpu_seconds(pid) - cpu0, _own_cpu_seconds() - own0

    async with session.get(info["admin"] + f"/requests?since={since}") as r:
        stamps = [q["recv_ns"] for q in (await r.json())["requests"]]
    span = (max(stamps) - min(stamps)) / 1e9 if len(stamps) > 1 else float("nan")
    return {
        "target_per_s": ORDER_RATE,
        "accounts": len(accounts),
        "sent": total,
        "sent_per_s": round(total / sent_in, 1),
        "answered_per_s": round(len(latencies) / elapsed, 1),
        "exchange_received_per_s": round((len(stamps) - 1) / span, 1),
        "answers": answers,
        "latency": summary(latencies, "ms"),
        "exchange_cpu_percent": round(100 * cpu / elapsed, 1),
        "load_generator_cpu_percent": round(100 * own / elapsed, 1),
    }


async def _ticks(info: dict, pid: int, seconds: float) -> dict:
    """Each subscriber is its own client (own session and connection), as three users are."""
    tokens = [i["instrument_token"] for i in info["instruments"]]
    counts = [0] * SUBSCRIBERS
    frames = [0] * SUBSCRIBERS
    counting = asyncio.Event()
    sockets, sessions = [], [aiohttp.ClientSession() for _ in range(SUBSCRIBERS)]
    for k, session in enumerate(sessions):
        b = info["accounts"][k % len(info["accounts"])]
        ws = await session.ws_connect(
            info["kite_ws"], params={"api_key": b["kite_api_key"], "access_token": b["kite_access_token"]}
        )
        await ws.send_str(json.dumps({"a": "subscribe", "v": tokens}))
        await ws.send_str(json.dumps({"a": "mode", "v": ["full", tokens]}))
        sockets.append(ws)

    async def reader(k: int, ws) -> None:
        unpack = struct.Struct(">H").unpack_from
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            if counting.is_set() and len(msg.data) > 1:
                counts[k] += unpack(msg.data)[0]  # packets in the frame, from its header
                frames[k] += 1

    readers = [asyncio.create_task(reader(k, ws)) for k, ws in enumerate(sockets)]
    await asyncio.sleep(1.0)  # warm up: subscriptions in place, loop steady
    admin = sessions[0]
    async with admin.get(info["admin"] + "/counters") as r:
        steps0 = (await r.json())["steps"]
    cpu0, own0, t0 = _cpu_seconds(pid), _own_cpu_seconds(), time.perf_counter()
    counting.set()
    await asyncio.sleep(seconds)
    counting.clear()
    elapsed = time.perf_counter() - t0
    cpu, own = _cpu_seconds(pid) - cpu0, _own_cpu_seconds() - own0
    async with admin.get(info["admin"] + "/counters") as r:
        steps1 = (await r.json())["steps"]
    for ws in sockets:
        await ws.close()
    for session in sessions:
        await session.close()
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    per_sub = [round(c / elapsed) for c in counts]
    return {
        "target_per_subscriber_per_s": TICK_TARGET,
        "subscribers": SUBSCRIBERS,
        "instruments": len(tokens),
        "mode": "full",
        "step_hz_target": STEP_HZ,
        "step_hz_achieved": round((steps1 - steps0) / elapsed, 1),
        "ticks_per_s_per_subscriber": per_sub,
        "ticks_per_s_total": sum(per_sub),
        "frames_per_s_per_subscriber": [round(f / elapsed, 1) for f in frames],
        "exchange_cpu_percent": round(100 * cpu / elapsed, 1),
        "subscribers_cpu_percent": round(100 * own / elapsed, 1),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    print(json.dumps(asyncio.run(run(quick)), indent=2))


if __name__ == "__main__":
    main()
