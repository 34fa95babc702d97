"""The outbox sender at a configured limit, through the sandbox with the same limits.

Queues one message for each of many customers (a broadcast) plus a burst of several for a few chats,
then lets the real ``OutboxSender`` deliver them. Prints JSON: the rate achieved over the configured
limit (overall, and in steady state after the first second's burst), 429s met, and the highest rate
any one chat saw in a sliding second.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bot.app import create_bot
from bot.outbox import OutboxSender, SendLimits
from bot.settings import load_settings
from handlers.render import Renderer
from sandbox import SandboxServer
from sandbox.client import SandboxClient
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.models import Customer, OutboxMessage
from storage.uow import UnitOfWork

TOKEN = "424242:BENCH"


async def bench(
    recipients: int = 1500,
    per_second: float = 100.0,
    margin: float = SendLimits.margin,
    busy_chats: int = 5,
    each: int = 8,
) -> dict[str, Any]:
    sandbox = SandboxServer(port=0, tokens=[TOKEN])
    await sandbox.start()
    try:
        async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
            await client.set_limits(global_per_second=per_second, private_per_second=1, private_burst=3)
            users = [await client.create_user(f"U{i}") for i in range(recipients)]
            await asyncio.gather(*(u.send("/start") for u in users))  # each has opened the chat
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                engine = create_engine(url)
                await upgrade(engine)
                factory = create_session_factory(engine)
                settings = load_settings(bot_token=TOKEN, telegram_api_url=sandbox.url, database_url=url)
                bot = create_bot(settings)
                sender = OutboxSender(
                    bot, factory, Renderer(settings.shop_config()), SendLimits(per_second, margin=margin)
                )
                ids = [u.id for u in users]
                await queue(factory, ids, 1, register=True)  # a broadcast: one message per chat
                broadcast_seconds = await deliver(sender, factory)
                mark = (await client.calls("sendMessage"))[-1]["seq"]
                await queue(factory, ids[:busy_chats], each, register=False)  # a few chats get many
                busy_seconds = await deliver(sender, factory)
                await bot.session.close()
                await engine.dispose()
            all_calls = await client.calls("sendMessage")
            stats = await client.stats()
    finally:
        await sandbox.stop()
    accepted = [c for c in all_calls if c["ok"]]
    broadcast = sorted(c["time"] for c in accepted if c["seq"] <= mark)
    steady = [t for t in broadcast if t >= broadcast[0] + 1.0]  # after the first second's burst
    steady_rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    per_chat: dict[int, list[float]] = defaultdict(list)
    for call in accepted:
        if call["seq"] > mark:
            per_chat[int(call["params"]["chat_id"])].append(call["time"])
    return {
        "benchmark": "notify",
        "configured_limit_per_second": per_second,
        "pacing_margin": margin,
        "broadcast_messages": len(broadcast),
        "broadcast_seconds": round(broadcast_seconds, 2),
        "achieved_per_second": round(len(broadcast) / broadcast_seconds, 1),
        "achieved_over_limit": round(len(broadcast) / broadcast_seconds / per_second, 3),
        "steady_over_limit": round(steady_rate / per_second, 3),
        "busy_chats": busy_chats,
        "messages_per_busy_chat": each,
        "busy_seconds": round(busy_seconds, 2),
        "max_per_chat_in_any_second": max(window_max(ts) for ts in per_chat.values()),
        "chat_limit": "1/s with a burst of 3",
        "rate_limited_429": stats["rate_limited"],
        "refused_other": len(all_calls) - len(accepted) - stats["rate_limited"],
    }


def window_max(times: list[float]) -> int:
    """The most messages inside any one-second window."""
    times, best, start = sorted(times), 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def pending(factory: Any) -> int:
    from sqlalchemy import func, select

    async with UnitOfWork(factory) as uow:
        statement = select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
        return int(await uow.session.scalar(statement) or 0)


async def deliver(sender: OutboxSender, factory: Any) -> float:
    started = time.monotonic()
    while await pending(factory):
        await sender.flush(limit=500)
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def queue(factory: Any, telegram_ids: list[int], each: int, register: bool) -> None:
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        for telegram_id in telegram_ids if register else []:
            uow.customers.add(Customer(telegram_id=telegram_id, first_name="U"))
        for telegram_id in telegram_ids:
            for i in range(each):
                await uow.outbox.enqueue(
                    OutboxMessage(
                        kind="bench",
                        chat_id=telegram_id,
                        template="notify.broadcast",
                        context={"text": f"Message {i} to {telegram_id}"},
                        dedupe_key=f"bench:{telegram_id}:{i}:{register}",
                    )
                )
        await uow.commit()


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    recipients = int(args[0]) if args else 1500
    margin = float(args[1]) if len(args) > 1 else SendLimits.margin
    print(json.dumps(asyncio.run(bench(recipients, margin=margin))))


if __name__ == "__main__":
    main()
