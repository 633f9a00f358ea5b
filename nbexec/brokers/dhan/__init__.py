"""Dhan v2. Every broker package has the same modules:

factory        `DHAN`: the account's adapter and a market-data `Feed`, from a route's settings
adapter        `DhanBroker`, one account's `OrderRoute` (over requests, rest, parsing, errors)
order_updates  the account's order updates as Dhan pushes them (its order-update socket)
market_feed    the market-data client (Dhan's live market feed); ticks: its binary decoders
instruments    the security list; config: credentials and endpoints; login: the token check
"""
