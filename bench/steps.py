"""What each step of a visit costs: the bot's CPU per update, step by step, ours beside the echo bot.

``updates`` measures whole visits; this one tells where their time goes. ``customers`` simulated
customers (100 by default) take each of the visit's 13 steps together — all send /start, then all open
the catalog, and so on — against one ``orderbot run`` on SQLite and against the bare aiogram echo bot,
the bots taking the steps in turn, for ``visits`` whole visits. A step's figure is the bot's CPU time
over that step (until every customer has their answer, and a moment after for what the update queued)
divided by the customers: CPU per update of that kind, on the same machine, at the same time for both
bots. Because every customer takes the same step at once, the figures hold a busy bot's batching (the
update records written together) but not a mix of steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from .updates import cpu_seconds, echo_visit, running_bot, seed, shop_env, simulated_customers, visit

SETTLE = 0.1  # seconds after a step's last answer: what the update queued (alerts, outbox) is sent


async def bench(customers: int = 100, visits: int = 3) -> dict[str, Any]:
    python = sys.executable
    costs: dict[str, list[list[float]]] = {"bare": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'shop.db'}"
        await seed(url, folder / "media")
        bots = {
            "bare": ([python, "-m", "bench.echo_bot"], {}, echo_visit),
            "ours": ([python, "-m", "bot.cli", "run"], shop_env(url, folder / "media"), visit),
        }
        async with contextlib.AsyncExitStack() as stack:
            running = {}
            for name, (args, env, script) in bots.items():
                sandbox, bot, pid = await stack.enter_async_context(running_bot(args, env, folder))
                running[name] = (pid, simulated_customers(sandbox, bot, customers), script("Tea"))
            for number in range(visits + 1):  # the first visit warms up and is not counted
                for name, (pid, people, steps) in running.items():
                    spent = []
                    for step in steps:
                        before = cpu_seconds(pid)
                        await asyncio.gather(*(customer.do(step) for customer in people))
                        await asyncio.sleep(SETTLE)
                        spent.append((cpu_seconds(pid) - before) * 1000 / customers)
                    if number:
                        costs[name].append(spent)
    labels = [step.what.strip() or step.kind for step in visit("Tea")]
    # each step's mean over the visits: a visit's costs are one row, a step's one column
    bare, ours = (
        [statistics.mean(step) for step in zip(*costs[name], strict=True)] for name in ("bare", "ours")
    )
    rows = [
        {
            "step": label,
            "bare_ms": round(b, 2),
            "ours_ms": round(o, 2),
            "times": round(o / b, 1) if b else None,
        }
        for label, b, o in zip(labels, bare, ours, strict=True)
    ]
    bare_mean, ours_mean = statistics.mean(bare), statistics.mean(ours)
    return {
        "benchmark": "steps",
        "customers": customers,
        "visits": visits,
        "cpu_ms_per_update_by_step": rows,
        "mean": {"bare_ms": round(bare_mean, 2), "ours_ms": round(ours_mean, 2)},
        # what the saturated rate would be if CPU per update were all that counted
        "ratio_from_cpu": round(bare_mean / ours_mean, 2) if ours_mean else None,
    }


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(asyncio.run(bench(int(args[0])) if args else bench())))


if __name__ == "__main__":
    main()
