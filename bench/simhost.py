"""The simulators as a process of their own: `python -m bench.simhost apiyi apixo ...`.

Prints one JSON line (each simulator's base URL; `discord` is the value for
`discord.http.Route.BASE`), then serves until its stdin is closed, then prints its CPU.
With `--report`, that last line also holds what only the simulators know: when each
vendor task completed (`done_at`, time.monotonic(), system-wide on Linux) and how many
videos were posted per job (`video_posts`), for runs whose jobs span several bots.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bench.common import cpu_seconds
from bench.sims import VENDOR_SIMS, CountingDiscordSim


async def main(names: list[str], report: bool) -> None:
    started: list[Any] = []
    urls: dict[str, str] = {}
    vendors: dict[str, Any] = {}
    discord: CountingDiscordSim | None = None
    for name in names:
        if name == "discord":
            discord = CountingDiscordSim()
            urls[name] = await discord.start()
            started.append(discord)
        else:
            sim: Any = VENDOR_SIMS[name]()
            await sim.start()
            urls[name] = sim.base_url
            started.append(sim)
            vendors[name] = sim
    print(json.dumps(urls), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    for server in reversed(started):
        await server.close()
    # The host's own cost, so a reader can tell whether the simulators kept up.
    last: dict[str, Any] = {"cpu_seconds": cpu_seconds()}
    if report:
        last["done_at"] = {
            name: {str(t): sim.done_at(str(t)) for t in sim.tasks} for name, sim in vendors.items()
        }
        last["video_posts"] = discord.video_posts() if discord is not None else {}
    print(json.dumps(last), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main([a for a in args if a != "--report"], "--report" in args))
