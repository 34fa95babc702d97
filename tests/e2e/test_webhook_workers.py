"""Webhook mode as processes: the secret, /healthz and /metrics; and two workers on one PostgreSQL and
Redis behind the sandbox's round-robin delivery, with 50 customers checking out at once (and the same
with one worker killed halfway)."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient, SimUser
from tests.conftest import TOKEN, fresh_database_url
from tests.e2e.test_orderbot_process import environment, orderbot, run
from tests.handlers.conftest import button_labels

pytestmark = pytest.mark.process
SECRET = "s3cret-token_42"
SCONES = 15  # the customers race for them; each order is an alert to the owner's chat, at 1 a second
CATALOG = f"""sku,name,category,price,stock
SCONE,Scone,Bakery,2.00,{SCONES}
TEA,Tea,Drinks,1.50,500
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    def __init__(self, env: dict[str, str], tmp_path: Path, name: str) -> None:
        self.port = free_port()
        self.env = {**env, "WEBHOOK_PORT": str(self.port)}
        self.tmp_path, self.name = tmp_path, name
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        log = (self.tmp_path / f"{self.name}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *orderbot("run", "--webhook"),
            env=self.env,
            cwd=self.tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.log()[-3000:]}")

    def log(self) -> str:
        return (self.tmp_path / f"{self.name}.log").read_text()

    async def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill() if kill else self.process.terminate()
            await self.process.wait()


def worker_env(tmp_path: Path, sandbox: SandboxServer, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **environment(tmp_path, sandbox.url),
        "DATABASE_URL": database_url,
        "WEBHOOK_URL": "http://127.0.0.1:9/tg",  # the public address; the sandbox balances to the workers
        "WEBHOOK_SECRET": SECRET,
        "NOTIFY_SEND_TIMEOUT": "3",
        "PAYMENT_METHODS": "transfer,cash",
        **extra,
    }


@pytest.fixture
async def single_worker(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[Worker]:
    env = worker_env(tmp_path, sandbox, f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    worker = Worker(env, tmp_path, "worker")
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]


async def test_the_webhook_checks_its_secret_and_reports_health_and_metrics(
    single_worker: Worker, client: SandboxClient
) -> None:
    await client.set_webhook_targets([f"{single_worker.url}/tg"])
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(f"{single_worker.url}/tg", json=update, headers=headers) as response:
                assert response.status == 401
        async with http.get(f"{single_worker.url}/healthz") as response:
            assert response.status == 200 and await response.json() == {"database": "ok"}
    ann = await client.create_user("Ann")
    await ann.send("/start")
    await ann.wait_for(text="Welcome", timeout=20)
    async with aiohttp.ClientSession() as http:
        for _ in range(50):  # counted once the update is done (recorded as handled after its reply)
            async with http.get(f"{single_worker.url}/metrics") as response:
                page = await response.text()
            if 'orderbot_updates_total{kind="message"}' in page:
                break
            await asyncio.sleep(0.1)
    assert 'orderbot_updates_total{kind="message"}' in page and "orderbot_handler_seconds_bucket" in page
    assert "orderbot_outbox_backlog" in page and "orderbot_telegram_429_total" in page


async def test_an_update_whose_handler_failed_is_delivered_again(
    sandbox: SandboxServer, client: SandboxClient, tmp_path: Path
) -> None:
    """The database fails while an update is handled: the webhook answers 500, so Telegram delivers the
    update again, and once the database is back it is handled (once)."""
    database = tmp_path / "shop.db"
    worker = Worker(worker_env(tmp_path, sandbox, f"sqlite+aiosqlite:///{database}"), tmp_path, "worker")
    await worker.start()
    try:
        await client.set_webhook_targets([f"{worker.url}/tg"])
        with sqlite3.connect(database) as db:  # a new customer cannot be written, as with a full disk
            db.execute(
                "CREATE TRIGGER fail BEFORE INSERT ON customers BEGIN SELECT * FROM no_such_table; END"
            )
        bob = await client.create_user("Bob")
        await bob.send("/start")
        await bob.wait_for(text="something went wrong", timeout=20)
        await asyncio.sleep(3)  # delivered again every second meanwhile, failing each time
        with sqlite3.connect(database) as db:
            db.execute("DROP TRIGGER fail")
        await bob.wait_for(text="Welcome", timeout=20)  # delivered again, and handled
        said = [m.get("text", "") for m in await bob.bot_messages()]
        assert sum("something went wrong" in text for text in said) == 1, said  # one apology
        with sqlite3.connect(database) as db:
            assert db.execute(
                "SELECT count(*) FROM customers WHERE telegram_id = ?", (bob.id,)
            ).fetchone() == (1,)
    finally:
        await worker.stop()


# --- two workers on PostgreSQL and Redis ------------------------------------------------------------
needs_servers = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")),
    reason="needs TEST_DATABASE_URL and TEST_REDIS_URL (PostgreSQL and Redis)",
)
CUSTOMERS = 30


async def fresh_redis() -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(os.environ["TEST_REDIS_URL"])
    await redis.flushdb()
    await redis.aclose()


async def shop_and_check_out(user: SimUser) -> str:
    await user.send("/start p_1")
    card = await user.wait_for(text="Scone", timeout=60)
    if "🛒 Add 1 to cart" not in button_labels(card):
        assert "Sold out" in card["text"]  # the last scones went while this customer was looking
        return "short"
    added = await user.press("🛒 Add 1 to cart")  # answered once the cart holds it
    if "Added" not in (added.get("text") or ""):
        return "short"
    await user.send("/checkout")
    started = await user.wait_for(
        lambda m: "How would you like" in str(m) or "cart is empty" in str(m), timeout=60
    )
    if "cart is empty" in started["text"]:
        return "short"  # the last scones were bought between adding and checking out
    await user.press("🏪 Pickup")
    await user.wait_for(text="What phone number", timeout=60)
    await user.press_reply("📱 Share my phone number")
    await user.wait_for(text="Anything we should know", timeout=60)
    await user.press("No notes →")
    await user.wait_for(text="How will you pay", timeout=60)
    await user.press("💵 Cash")
    summary = await user.wait_for(
        lambda m: "Is everything right" in str(m) or "cart is empty" in str(m), timeout=60
    )
    if "cart is empty" in summary["text"]:
        return "short"  # sold out while this customer was answering
    answer = await user.press("✅ Place order")
    if "do not have enough" in (answer.get("text") or ""):
        return "short"  # the last scones went to someone quicker (an alert; the cart is kept)
    await user.wait_for(text="is placed", timeout=60)
    return "placed"


async def two_workers_run_the_shop(sandbox: SandboxServer, tmp_path: Path, kill_one: bool) -> None:
    database_url = await fresh_database_url("postgresql", tmp_path)
    await fresh_redis()
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        owner = await client.create_user("Olga")
        env = worker_env(
            tmp_path,
            sandbox,
            database_url,
            REDIS_URL=os.environ["TEST_REDIS_URL"],
            ADMIN_IDS=str(owner.id),
            TIMEZONE="UTC",  # the digest is due now: both workers' clocks try, the staff get one
            DIGEST_TIME=(datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M"),
            THROTTLE_BURST="40",
        )
        (tmp_path / "catalog.csv").write_text(CATALOG)
        assert (await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path))[0] == 0
        await owner.send("/start")  # the owner has opened the chat before the workers start
        workers = [Worker(env, tmp_path, f"worker{i}") for i in (1, 2)]
        for worker in workers:
            await worker.start()
        try:
            await client.set_webhook_targets([f"{w.url}/tg" for w in workers])
            await owner.wait_for(text="Welcome", timeout=30)
            users = [await client.create_user(f"Guest{i}") for i in range(CUSTOMERS)]

            async def customer(i: int, user: SimUser) -> str:
                if kill_one and i == CUSTOMERS // 2:
                    await workers[1].stop(kill=True)  # halfway: one worker dies mid-traffic
                return await shop_and_check_out(user)

            outcomes = await asyncio.gather(*(customer(i, u) for i, u in enumerate(users)))
            assert outcomes.count("placed") == SCONES and outcomes.count("short") == CUSTOMERS - SCONES

            # A redelivered update (the same update_id to both workers at once) is handled once.
            ann = users[0]
            update = {
                "update_id": 10**12,
                "message": {
                    "message_id": 999_999,
                    "date": 0,
                    "chat": {"id": ann.id, "type": "private", "first_name": "Guest0"},
                    "from": {"id": ann.id, "is_bot": False, "first_name": "Guest0"},
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            before = len(await ann.bot_messages())
            alive = [w for w in workers if w.process and w.process.returncode is None]
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(
                    *(
                        http.post(
                            f"{w.url}/tg", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                        )
                        for w in alive * 2
                    )
                )
            await asyncio.sleep(1)
            assert len(await ann.bot_messages()) == before + 1  # one answer, however often it came

            # Staff mark every order paid; each customer hears about it exactly once.
            import asyncpg

            connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
            try:
                numbers = [r["id"] for r in await connection.fetch("select id from orders order by id")]
                assert len(numbers) == SCONES
                stock = await connection.fetchval("select stock from products where sku = 'SCONE'")
                assert stock == 0
                per_customer = await connection.fetch(
                    "select customer_id, count(*) from orders group by customer_id having count(*) > 1"
                )
                assert per_customer == []
            finally:
                await connection.close()
            for number in numbers:
                await owner.send(f"/pay {number} 2.00 cash")
                await owner.wait_for(text=f"for order #{number} —", timeout=30)
            buyers = [u for u, outcome in zip(users, outcomes, strict=True) if outcome == "placed"]
            for _ in range(300):
                told = [
                    sum(
                        1
                        for m in await u.bot_messages()
                        if "We received your payment" in (m.get("text") or "")
                    )
                    for u in buyers
                ]
                if all(told):
                    break
                await asyncio.sleep(0.2)
            assert told == [1] * SCONES, told
            digests = [m for m in await owner.bot_messages() if "Good morning" in (m.get("text") or "")]
            assert len(digests) == 1
            # Nothing is left unsent: the owner's new-order alerts go at their chat's pace, 1 a second,
            # and the two workers overlap on that chat, so Telegram holds some back for a second or two.
            connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
            try:
                for _ in range(150):
                    unsent = await connection.fetch(
                        "select id, kind, chat_id, status, last_error, due_at from outbox"
                        " where status != 'sent'"
                    )
                    if not unsent or any(row["status"] != "pending" for row in unsent):
                        break
                    await asyncio.sleep(0.2)
                ticks = await connection.fetch("select name, tick, count(*) from job_ticks group by 1, 2")
            finally:
                await connection.close()
            assert not unsent, "; ".join(str(dict(row)) for row in unsent)
            assert ticks and all(row["count"] == 1 for row in ticks)
            alerts = [m["text"] for m in await owner.bot_messages() if "New order #" in (m.get("text") or "")]
            assert sorted(alert.split("#")[1].split(" ")[0] for alert in alerts) == sorted(map(str, numbers))
        finally:
            for worker in workers:
                await worker.stop()
        for worker in workers:
            assert "Traceback" not in worker.log(), worker.log()[-3000:]


@needs_servers
async def test_two_webhook_workers_behave_like_one(sandbox: SandboxServer, tmp_path: Path) -> None:
    await two_workers_run_the_shop(sandbox, tmp_path, kill_one=False)


@needs_servers
async def test_one_worker_killed_halfway_the_other_finishes(sandbox: SandboxServer, tmp_path: Path) -> None:
    await two_workers_run_the_shop(sandbox, tmp_path, kill_one=True)
