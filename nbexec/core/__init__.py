"""Pure domain: instruments, orders, the order state machine, fills, positions, errors.

Nothing here does I/O or imports asyncio; everything is plain data and pure functions.
"""
