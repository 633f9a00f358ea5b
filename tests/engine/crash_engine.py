"""Child process of the crash test: start the engine, fire one 50-account signal, then idle."""

import asyncio
import sys

from nbexec.engine.config import EngineConfig, PaperConfig
from nbexec.engine.lifecycle import start


async def main(data_dir: str, redis_url: str, prefix: str, signal_id: str) -> None:
    oms = await start(
        EngineConfig(paper=PaperConfig(accounts=50), prefix=prefix), data_dir=data_dir, redis_url=redis_url
    )
    await oms.subscribe("NSE:INFY")
    oms.fire("NSE:INFY", "BUY", 1, signal_id=signal_id)
    print("fired", flush=True)
    await asyncio.sleep(3600)  # killed long before


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
