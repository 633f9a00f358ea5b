"""Zerodha Kite Connect v3. Every broker package has the same modules:

factory        `KITE`: the account's adapter and a market-data `Feed`, from a route's settings
adapter        `KiteBroker`, one account's `OrderRoute` (over requests, rest, parsing, errors)
order_updates  the account's order updates as Kite pushes them (on the ticker socket)
market_feed    the market-data client (Kite's ticker); ticks: its binary decoders
instruments    the instrument list; config: credentials and endpoints; login: the session
"""
