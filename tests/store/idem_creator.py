"""Child process of the idempotency test: waits for a start time, then creates one order."""

import asyncio
import sys
import time

from nbexec.store import OrderStore, connect
from tests.store.helpers import new_order


async def main(url: str, prefix: str, start_at: float, quantity: int) -> None:
    store = OrderStore(connect(url), prefix=prefix)
    await store.ping()
    time.sleep(max(0.0, start_at - time.time()))
    order, created = await store.create(new_order("same-signal", quantity=quantity))
    print(f"{int(created)} {order.order_id} {order.quantity}", flush=True)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
