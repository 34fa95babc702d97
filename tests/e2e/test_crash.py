"""`kill -9` in the middle of a burst: nothing lost, nothing doubled.

A real `orderbot run` process (long polling, or a webhook worker) is killed while 30 customers press
"Place order" and 10 pay inside Telegram, all at once; a new process starts. Then every customer who
pressed has exactly one order and one confirmation, and every payment Telegram took is recorded once and
told once. Telegram's side is the sandbox (it keeps unconfirmed updates for the next poll, and retries a
webhook delivery that got no answer), the database a real SQLite file or PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sandbox import SandboxServer
from sandbox.client import SandboxClient, SimUser
from storage.db import create_engine
from tests.conftest import DATABASES, TOKEN, fresh_database_url
from tests.e2e.test_orderbot_process import environment, orderbot, run
from tests.e2e.test_webhook_workers import SECRET, Worker
from tests.handlers.conftest import button_labels, callback_of

pytestmark = pytest.mark.process
PRESSERS, PAYERS = 30, 10
CATALOG = "sku,name,category,price,stock\nSCONE,Scone,Bakery,2.00,1000\n"


class Bot:
    """The bot as a process that can be killed and started again, polling or as a webhook worker."""

    def __init__(self, mode: str, env: dict[str, str], tmp_path: Path, client: SandboxClient) -> None:
        self.mode, self.env, self.tmp_path, self.client = mode, env, tmp_path, client
        self.worker = Worker(env, tmp_path, "worker") if mode == "webhook" else None
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        if self.worker is not None:
            self.worker.name = f"worker{self.starts}"
            await self.worker.start()
            await self.client.set_webhook_targets([f"{self.worker.url}/tg"])
            return
        log = (self.tmp_path / f"bot{self.starts}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *orderbot("run"), env=self.env, cwd=self.tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=log
        )

    async def kill(self) -> None:
        if self.worker is not None:
            await self.worker.stop(kill=True)
        elif self.process is not None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        elif self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def logs(self) -> str:
        names = [f"worker{i}.log" if self.worker else f"bot{i}.log" for i in range(1, self.starts + 1)]
        return "\n".join((self.tmp_path / name).read_text() for name in names)


async def to_summary(user: SimUser, method: str) -> dict[str, Any]:
    """A customer with a scone in the cart, through the checkout to its summary."""
    await user.send("/start p_1")
    await user.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m), timeout=60)
    await user.press("🛒 Add 1 to cart")
    await user.send("/checkout")
    await user.wait_for(text="How would you like", timeout=60)
    await user.press("🏪 Pickup")
    await user.wait_for(text="What phone number", timeout=60)
    await user.press_reply("📱 Share my phone number")
    await user.wait_for(text="Anything we should know", timeout=60)
    await user.press("No notes →")
    await user.wait_for(text="How will you pay", timeout=60)
    await user.press(method)
    return await user.wait_for(text="Is everything right", timeout=60)


async def count(engine: Any, sql: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def said(user: SimUser, words: str) -> int:
    return sum(words in (m.get("text") or "") for m in await user.bot_messages())


@pytest.mark.parametrize("mode", ["polling", "webhook"])
@pytest.mark.parametrize("database", DATABASES)
async def test_kill_9_during_a_burst_of_orders_and_payments_loses_and_doubles_nothing(
    sandbox: SandboxServer, tmp_path: Path, mode: str, database: str
) -> None:
    database_url = await fresh_database_url(database, tmp_path)
    env = {
        **environment(tmp_path, sandbox.url),
        "DATABASE_URL": database_url,
        "PAYMENT_METHODS": "transfer",
        "PAYMENT_PROVIDER_TOKEN": "284685063:TEST:sandbox",
        "NOTIFY_SEND_TIMEOUT": "3",  # a dead process's messages are claimable again a few seconds on
        "WEBHOOK_URL": "http://127.0.0.1:9/tg",  # the sandbox balances to the worker (webhook mode)
        "WEBHOOK_SECRET": SECRET,
        "THROTTLE_BURST": "40",
    }
    if mode == "polling":
        del env["WEBHOOK_URL"]
    (tmp_path / "catalog.csv").write_text(CATALOG)
    assert (await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path))[0] == 0
    engine = create_engine(database_url)
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        bot = Bot(mode, env, tmp_path, client)
        await bot.start()
        try:
            pressers = [await client.create_user(f"Presser{i}") for i in range(PRESSERS)]
            payers = [await client.create_user(f"Payer{i}") for i in range(PAYERS)]
            summaries = await asyncio.gather(*(to_summary(u, "🏦 Bank transfer") for u in pressers))

            async def invoice_for(user: SimUser) -> dict[str, Any]:
                await to_summary(user, "💳 Pay now by card")
                await user.press("✅ Place order")
                return await user.wait_for(lambda m: "invoice" in m, timeout=60)

            invoices = await asyncio.gather(*(invoice_for(u) for u in payers))
            assert await count(engine, "select count(*) from orders") == PAYERS

            # The outbox's new messages cannot get through until after the restart: a message Telegram
            # took a moment before `kill -9`, its row not yet marked, would go again (at least once).
            await client.add_fault("timeout", method="sendMessage", times=10**6, delay=0.5)
            pays = [
                asyncio.create_task(u.pay(i["message_id"])) for u, i in zip(payers, invoices, strict=True)
            ]
            for _ in range(500):  # killed as soon as the first payments are recorded
                if await count(engine, "select count(*) from payments") >= 2:
                    break
                await asyncio.sleep(0.002)
            await bot.kill()
            paid_before = await count(engine, "select count(*) from payments")
            await bot.start()
            paid = [u for u, result in zip(payers, await asyncio.gather(*pays), strict=True) if result["ok"]]

            presses = [
                asyncio.create_task(
                    u.press_data(s["message_id"], callback_of(s, "✅ Place order"), wait=0.05)
                )
                for u, s in zip(pressers, summaries, strict=True)
            ]
            for _ in range(5000):  # killed as soon as the presses' first orders are in
                if await count(engine, "select count(*) from orders") > PAYERS + 2:
                    break
                await asyncio.sleep(0.002)
            await bot.kill()
            placed_before = await count(engine, "select count(*) from orders") - PAYERS
            await bot.start()
            await asyncio.gather(*presses)
            await client.clear_faults()

            async def settled() -> bool:
                orders = await count(engine, "select count(distinct customer_id) from orders")
                payments = await count(engine, "select count(*) from payments where status = 'verified'")
                told = [await said(u, "is placed!") for u in pressers + payers]
                thanked = [await said(u, "We received your payment") for u in paid]
                return orders == PRESSERS + PAYERS and payments == len(paid) and min(told + thanked) >= 1

            for _ in range(300):
                if await settled():
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # anything sent twice would be here by now
            per_customer = await count(
                engine,
                "select count(*) from (select customer_id from orders group by 1 having count(*) > 1) t",
            )
            assert per_customer == 0
            assert await count(engine, "select count(*) from orders") == PRESSERS + PAYERS
            assert [await said(u, "is placed!") for u in pressers + payers] == [1] * (PRESSERS + PAYERS)
            assert len(paid) >= 2, "the payments recorded before kill -9 are gone"
            assert await count(engine, "select count(*) from payments") == len(paid)
            assert await count(engine, "select count(*) from orders where status = 'paid'") == len(paid)
            assert [await said(u, "We received your payment") for u in paid] == [1] * len(paid)
            print(f"{mode}/{database}: in before kill -9: {placed_before} orders, {paid_before} payments;")
            print(f"in after the restart: {PRESSERS} orders, {len(paid)} payments of {PAYERS}")
        finally:
            await bot.stop()
            await engine.dispose()
        assert "Traceback" not in bot.logs(), bot.logs()[-4000:]
