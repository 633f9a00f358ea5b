"""The paper exchange: one matching engine behind Kite v3 and Dhan v2 front ends, on loopback.

Modules, bottom up (pure ones first):
  universe    the instruments listed and their reference prices
  book        one instrument's seeded random walk and 5-level book (pure)
  model       orders, history snapshots, trades, positions, funds, events (plain data)
  resting     resting limit orders in a price heap per side (pure)
  matching    the engine: place / modify / cancel / step, cash and positions (pure)
  faults      seeded fault-injection decisions from a spec string (pure)
  services    credentials, rate limiter, admin recorder, pub-sub hub
  exchange    the interface front ends use (`Exchange`), what a front end is (`FrontEnd`),
              the request keys
  sockets     WebSocket plumbing the front ends share
  arrival     the kernel's receive stamp of each request
  kite/       Kite front end: REST (`api`), JSON/CSV (`format`), ticker (`ws`), encoder (`ticks`)
  dhan/       Dhan front end: REST (`api`), JSON (`wire`), WebSockets (`ws`), encoders (`ticks`)
  admin       front end /admin/...: recorded requests and frames, books, counters, faults, steps
  server      `PaperExchange`: one aiohttp app on one port serving the front ends it is given
`FRONT_ENDS` is the exchange `nbexec sim` runs. In-process:
`async with PaperExchange(FRONT_ENDS, accounts=3) as x: ...`.
"""

from . import admin, dhan, kite
from .exchange import FrontEnd
from .server import PaperExchange
from .services import PaperAccount

FRONT_ENDS: tuple[FrontEnd, ...] = (kite, dhan, admin)

__all__ = ["FRONT_ENDS", "FrontEnd", "PaperAccount", "PaperExchange"]
