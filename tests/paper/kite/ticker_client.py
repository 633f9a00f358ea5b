"""A KiteTicker client run in its own process (Twisted's reactor cannot restart in one process).

Usage: python ticker_client.py '{"root": ..., "api_key": ..., "access_token": ...,
        "tokens": [...], "mode": "full", "ticks": 3, "orders": 0}'
Prints JSON lines: {"event": "connect"}, {"event": "ticks", "ticks": [...]},
{"event": "order", "data": {...}}; exits 0 once it has seen `ticks` tick callbacks and
`orders` order updates, or 3 on a 20 s timeout.
"""

import json
import os
import sys
import threading

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from kiteconnect import KiteTicker
from twisted.internet import reactor


def main() -> int:
    cfg = json.loads(sys.argv[1])
    want_ticks, want_orders = cfg.get("ticks", 1), cfg.get("orders", 0)
    seen = {"ticks": 0, "orders": 0}
    done = threading.Event()
    lock = threading.Lock()

    def emit(obj):
        with lock:
            print(json.dumps(obj, default=str), flush=True)

    def check():
        if seen["ticks"] >= want_ticks and seen["orders"] >= want_orders:
            done.set()

    kws = KiteTicker(cfg["api_key"], cfg["access_token"], root=cfg["root"])

    def on_connect(ws, response):
        ws.subscribe(cfg["tokens"])
        mode = cfg.get("mode")
        if mode:
            ws.set_mode(mode, cfg["tokens"])
        emit({"event": "connect"})

    def on_ticks(ws, ticks):
        if not ticks:
            return
        seen["ticks"] += 1
        emit({"event": "ticks", "ticks": ticks})
        check()

    def on_order_update(ws, data):
        seen["orders"] += 1
        emit({"event": "order", "data": data})
        check()

    def on_error(ws, code, reason):
        emit({"event": "error", "code": code, "reason": str(reason)})

    kws.on_connect = on_connect
    kws.on_ticks = on_ticks
    kws.on_order_update = on_order_update
    kws.on_error = on_error
    if want_ticks == 0 and want_orders == 0:
        done.set()
    kws.connect(threaded=True)
    ok = done.wait(20)
    kws.close()
    reactor.callFromThread(reactor.stop)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
