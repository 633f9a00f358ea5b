"""Child process of the crash test: creates orders and walks them, logging each returned call."""

import asyncio
import sys

from nbexec.core.states import OrderStatus as S
from nbexec.store import OrderStore, connect
from tests.store.helpers import new_order

PATH = (S.PENDING_SEND, S.SENT, S.ACKED, S.CANCELLED)


async def main(url: str, prefix: str, count: int) -> None:
    store = OrderStore(connect(url, timeout=5), prefix=prefix)
    for i in range(count):
        order, _ = await store.create(new_order(f"crash-{i}", account=f"A{i % 7}"))
        print(f"{order.account} {order.order_id} 1", flush=True)
        for status in PATH:
            result = await store.transition(order, status)
            print(f"{order.account} {order.order_id} {result.version}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
