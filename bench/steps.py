"""What each step of a visit costs: the bot's CPU per update, step by step, ours beside the echo bot.

``updates`` measures whole visits; this one tells where their time goes. ``customers`` simulated
customers (100 by default) take each of the visit's 13 steps together — all send /start, then all open
the catalog, and so on — against one ``orderbot run`` on SQLite and against the bare aiogram echo bot,
the bots taking the steps in turn, for ``visits`` whole visits. A step's figure is the bot's CPU time
over that step (until every customer has their answer, and a moment after for what the update queued)
divided by the customers: CPU per update of that kind, on the same machine, at the same time for both
bots. Because every customer takes the same step at once, the figures hold a busy bot's batching (the
update records written together) but not a mix of steps.

With ``base``, another checkout of orderbot (``orderbot bench steps --base /tmp/base`` after ``git
worktree add /tmp/base main``), its bot takes the steps too, between the echo bot and ours: an A/B of
a change, measured in one run.

With ``BENCH_PROFILE=/tmp/stacks.txt`` (py-spy on the PATH), our bot is profiled over the counted
visits: ``profile`` gives each layer's share of its CPU (``bench/profile.py``), and
``ratio_if_database_free`` what ``ratio_from_cpu`` would be if our database work cost nothing — how far
any change to the database side alone could take the ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .profile import recorder, shares
from .updates import cpu_seconds, echo_visit, running_bot, shop_env, simulated_customers, visit

SETTLE = 0.1  # seconds after a step's last answer: what the update queued (alerts, outbox) is sent


async def bench(customers: int = 100, visits: int = 3, base: str | None = None) -> dict[str, Any]:
    """``base``: the folder of another checkout whose bot is measured beside ours."""
    python = sys.executable
    path = os.environ.get("BENCH_PROFILE")
    profile = Path(path) if path else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bots: dict[str, tuple[list[str], dict[str, str], Any]] = {
            "bare": ([python, "-m", "bench.echo_bot"], {}, echo_visit)
        }
        checkouts = {"base": str(Path(base).resolve())} if base else {}
        checkouts["ours"] = str(Path(__file__).resolve().parents[1])
        for name, code in checkouts.items():
            url = f"sqlite+aiosqlite:///{folder / name}.db"
            await seed_by(code, url, folder / "media")
            env = {**shop_env(url, folder / "media"), "PYTHONPATH": code}  # the bot runs this checkout
            bots[name] = ([python, "-m", "bot.cli", "run"], env, visit)
        costs: dict[str, list[list[float]]] = {name: [] for name in bots}
        calls: dict[str, list[list[Counter[str]]]] = {name: [] for name in bots}
        async with contextlib.AsyncExitStack() as stack:
            running = {}
            for name, (args, env, script) in bots.items():
                sandbox, bot, pid = await stack.enter_async_context(running_bot(args, env, folder))
                people = simulated_customers(sandbox, bot, customers)
                running[name] = (pid, sandbox.world.stats.methods, people, script("Tea"))
            for number in range(visits + 1):  # the first visit warms up and is not counted
                if number == 1 and profile:  # ours, over the counted visits
                    await stack.enter_async_context(recording(running["ours"][0], profile))
                for name, (pid, methods, people, steps) in running.items():
                    spent, made = [], []
                    for step in steps:
                        before, called = cpu_seconds(pid), Counter(methods)
                        await asyncio.gather(*(customer.do(step) for customer in people))
                        await asyncio.sleep(SETTLE)
                        spent.append((cpu_seconds(pid) - before) * 1000 / customers)
                        made.append(Counter(methods) - called)
                    if number:
                        costs[name].append(spent)
                        calls[name].append(made)
    labels = [step.what.strip() or step.kind for step in visit("Tea")]
    # each step's mean over the visits: a visit's costs are one row, a step's one column
    by_step = {
        name: [statistics.mean(step) for step in zip(*rows, strict=True)] for name, rows in costs.items()
    }
    # each step's calls over the visits
    by_call: dict[str, list[Counter[str]]] = {
        name: [sum(step, Counter()) for step in zip(*made, strict=True)] for name, made in calls.items()
    }
    per_update = customers * visits
    rows = [
        {
            "step": label,
            **{f"{name}_ms": round(cost[at], 2) for name, cost in by_step.items()},
            "times": round(by_step["ours"][at] / by_step["bare"][at], 1) if by_step["bare"][at] else None,
            # Bot API calls per update, getUpdates left out (how many it takes depends on the timing)
            "ours_calls": {
                method: round(count / per_update, 2)
                for method, count in sorted(by_call["ours"][at].items())
                if method != "getUpdates"
            },
            "bare_calls": round(_answering(by_call["bare"][at]) / per_update, 2),
        }
        for at, label in enumerate(labels)
    ]
    means = {name: statistics.mean(cost) for name, cost in by_step.items()}
    visits_made = {name: sum(steps, Counter()) for name, steps in by_call.items()}
    figures: dict[str, Any] = {
        "benchmark": "steps",
        "customers": customers,
        "visits": visits,
        "cpu_ms_per_update_by_step": rows,
        "mean": {f"{name}_ms": round(mean, 3) for name, mean in means.items()},
        # what the saturated rate would be if CPU per update were all that counted
        "ratio_from_cpu": round(means["bare"] / means["ours"], 2) if means["ours"] else None,
        # per update over a visit: the calls that answer, and getUpdates
        "calls_per_update": {
            name: {
                "answering": round(_answering(count) / (per_update * len(labels)), 2),
                "getUpdates": round(count["getUpdates"] / (per_update * len(labels)), 2),
            }
            for name, count in visits_made.items()
        },
    }
    if profile:
        figures["profile"] = shares(profile)
        database = figures["profile"].get("share_by_layer", {}).get("database", 0.0)
        # the ratio if our database work cost nothing and everything else stayed as it is
        figures["ratio_if_database_free"] = round(means["bare"] / (means["ours"] * (1 - database)), 2)
    if base:
        figures["base"] = base
        figures["ours_over_base"] = round(means["ours"] / means["base"], 3) if means["base"] else None
        # visit by visit: how steady the difference is
        figures["ours_over_base_by_visit"] = [
            round(statistics.mean(o) / statistics.mean(b), 3)
            for o, b in zip(costs["ours"], costs["base"], strict=True)
        ]
    return figures


def _answering(calls: Counter[str]) -> int:
    return sum(count for method, count in calls.items() if method != "getUpdates")


@contextlib.asynccontextmanager
async def recording(pid: int, path: Path) -> AsyncIterator[None]:
    """py-spy recording ``pid`` into ``path`` until the block ends."""
    spy = await asyncio.create_subprocess_exec(
        *recorder(pid, path), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # it writes what it has
        await spy.wait()


async def seed_by(code: str, url: str, media: Path) -> None:
    """``seed`` as the checkout in ``code`` has it, into a database of its own migrations (a base
    checkout may be a schema behind)."""
    script = (
        "import asyncio, sys, pathlib; from bench.updates import seed; "
        "asyncio.run(seed(sys.argv[1], pathlib.Path(sys.argv[2])))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, url, str(media), env={**os.environ, "PYTHONPATH": code}, cwd=code
    )
    if await process.wait():
        raise RuntimeError(f"seeding the shop of {code} failed")


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    customers, base = (int(args[0]) if args else 100), (args[1] if len(args) > 1 else None)
    print(json.dumps(asyncio.run(bench(customers, base=base))))


if __name__ == "__main__":
    main()
