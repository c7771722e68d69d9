"""The simulators as a process of their own: `python -m bench.simhost apiyi apixo ...`.

Prints one JSON line (each simulator's base URL; `discord` is the value for
`discord.http.Route.BASE`), then serves until its stdin is closed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bench.common import cpu_seconds
from bench.sims import VENDOR_SIMS
from tests.sim.discord_sim import DiscordSim


async def main(names: list[str]) -> None:
    started: list[Any] = []
    urls: dict[str, str] = {}
    for name in names:
        if name == "discord":
            discord = DiscordSim()
            urls[name] = await discord.start()
            started.append(discord)
        else:
            sim: Any = VENDOR_SIMS[name]()
            await sim.start()
            urls[name] = sim.base_url
            started.append(sim)
    print(json.dumps(urls), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    for server in reversed(started):
        await server.close()
    # The host's own cost, so a reader can tell whether the simulators kept up.
    print(json.dumps({"cpu_seconds": cpu_seconds()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
