"""The paper exchange: one matching engine behind Kite v3 and Dhan v2 front ends, on loopback.

Modules, bottom up (pure ones first):
  universe    the instruments listed and their reference prices
  book        one instrument's seeded random walk and 5-level book (pure)
  model       orders, history snapshots, trades, positions, funds, events (plain data)
  matching    the engine: place / modify / cancel / step, cash and positions (pure)
  faults      seeded fault-injection decisions from a spec string (pure)
  services    credentials, rate limiter, admin recorder, pub-sub hub
  server      `PaperExchange`: one aiohttp app on one port, the tick loop, `info()`
  kite_*      Kite REST (`kite_api`), JSON/CSV rendering (`kite_format`), ticker (`kite_ws`)
  dhan_*      Dhan REST, rendering and WebSockets
  admin       /admin/...: recorded requests and frames, books, counters, faults, steps
Run it with `nbexec sim`, or in-process: `async with PaperExchange(accounts=3) as x: ...`.
"""
