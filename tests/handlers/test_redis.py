"""With REDIS_URL, conversation state, the one-update-at-a-time lock and the throttle are shared by
workers (skips without Redis)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey

from bot.app import create_dispatcher
from bot.isolation import LeasedRedisEventIsolation
from bot.middlewares import RedisRate
from bot.settings import load_settings
from handlers.states import Checkout
from tests.conftest import PYTHON, TOKEN, python_env

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL (Redis)")


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(os.environ["TEST_REDIS_URL"])
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_a_conversation_step_set_on_one_worker_is_seen_by_another(
    redis: Any, session_factory: Any
) -> None:
    settings = load_settings(bot_token=TOKEN)
    first, second = (create_dispatcher(settings, session_factory, redis=redis) for _ in range(2))
    key = StorageKey(bot_id=123456, chat_id=42, user_id=42)
    await first.storage.set_state(key, Checkout.phone)
    await first.storage.set_data(key, {"step": "phone"})
    assert await second.storage.get_state(key) == Checkout.phone.state
    assert await second.storage.get_data(key) == {"step": "phone"}
    other_bot = StorageKey(bot_id=654321, chat_id=42, user_id=42)
    assert await second.storage.get_state(other_bot) is None  # keys carry the bot id
    assert any(b"123456" in k for k in await redis.keys("orderbot:fsm:*"))


# A worker handling one of user 42's updates: it holds their lock until it is killed.
HOLDER = f"""
import asyncio
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from bot.app import create_dispatcher
from bot.settings import load_settings

async def main():
    dp = create_dispatcher(load_settings(bot_token={TOKEN!r}), None, redis=Redis.from_url({{url!r}}))
    async with dp.fsm.events_isolation.lock(StorageKey(bot_id=123456, chat_id=42, user_id=42)):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_worker_killed_mid_update_holds_its_user_up_for_seconds_not_a_minute(redis: Any) -> None:
    """Telegram delivers the dead worker's update again, to a worker that takes the user's lock: the lock
    lapses soon after its holder died (aiogram's lasted a minute, and the chat's later updates waited
    behind it)."""
    holder = await asyncio.create_subprocess_exec(
        PYTHON,
        "-c",
        HOLDER.format(url=os.environ["TEST_REDIS_URL"]),
        env=python_env(),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 20) == b"held\n"
    finally:
        holder.kill()
        await holder.wait()
    other = create_dispatcher(load_settings(bot_token=TOKEN), None, redis=redis)  # type: ignore[arg-type]
    started = time.monotonic()
    async with asyncio.timeout(15):
        async with other.fsm.events_isolation.lock(StorageKey(bot_id=123456, chat_id=42, user_id=42)):
            waited = time.monotonic() - started
    assert 1 < waited < 15  # it was held (by the dead worker), and not for long


async def test_a_long_update_keeps_its_users_lock(redis: Any) -> None:
    """Its holder renews the lease: an update that takes longer than the lease still has the user to
    itself, and the next update goes as soon as it is done."""
    keys = DefaultKeyBuilder(prefix="orderbot:fsm", with_bot_id=True, with_destiny=True)
    workers = [LeasedRedisEventIsolation(redis, keys, ttl=1.5) for _ in range(2)]
    key = StorageKey(bot_id=123456, chat_id=42, user_id=42)
    order: list[str] = []

    async def handle(worker: LeasedRedisEventIsolation, name: str, seconds: float) -> None:
        async with worker.lock(key):
            order.append(f"{name} starts")
            await asyncio.sleep(seconds)
            order.append(f"{name} ends")

    long = asyncio.create_task(handle(workers[0], "long", 4.5))  # three leases' worth
    await asyncio.sleep(0.1)
    await handle(workers[1], "next", 0)
    await long
    assert order == ["long starts", "long ends", "next starts", "next ends"]
    assert not await redis.keys("orderbot:fsm:*:lock")  # released


async def test_a_stuck_update_lets_its_user_go_after_the_longest_hold(redis: Any) -> None:
    """A handler stuck (on a network call without a timeout, say) keeps its user for ``longest``, not for
    ever: the user's next update goes after that."""
    keys = DefaultKeyBuilder(prefix="orderbot:fsm", with_bot_id=True, with_destiny=True)
    stuck, other = (LeasedRedisEventIsolation(redis, keys, ttl=0.9, longest=1.5) for _ in range(2))
    key = StorageKey(bot_id=123456, chat_id=43, user_id=43)
    release = asyncio.Event()

    async def hang() -> None:
        async with stuck.lock(key):
            await release.wait()

    hanging = asyncio.create_task(hang())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    async with asyncio.timeout(10), other.lock(key):
        waited = time.monotonic() - started
    release.set()
    await hanging
    assert 1.0 < waited < 6  # the longest hold, then one lease


async def test_the_throttle_is_shared_by_workers(redis: Any) -> None:
    workers = [RedisRate(redis, bot_id=1, per_second=1, burst=4) for _ in range(2)]
    allowed = [await workers[i % 2].allow(user_id=7) for i in range(6)]
    assert allowed == [True] * 4 + [False] * 2  # four in all, whichever worker took them
    assert await workers[0].allow(user_id=8)  # another customer is not affected


async def test_the_shared_throttle_has_no_window_edge(redis: Any) -> None:
    """Four a second means four in any second, across the turn of a clock second too (a fixed window
    counted afresh there and let eight through)."""
    worker = RedisRate(redis, bot_id=1, per_second=4, burst=4)
    while time.time() % 1 < 0.8:  # just before a second turns
        await asyncio.sleep(0.01)
    assert [await worker.allow(user_id=9) for _ in range(4)] == [True] * 4
    await asyncio.sleep(1 - time.time() % 1 + 0.05)  # just after it turned
    assert not await worker.allow(user_id=9)
    await asyncio.sleep(1)  # a second after the four
    assert await worker.allow(user_id=9)


async def test_a_failed_update_is_known_to_every_worker_as_failed_before(redis: Any) -> None:
    """The webhook apologises once for a failing update: whichever worker Telegram's redelivery reaches
    finds it noted (for this bot; another bot's update of the same id is its own)."""
    from bot.webserver import FailedUpdates

    first, second = FailedUpdates(redis), FailedUpdates(redis)
    assert not await second.failed_before(123456, 77)
    await first.note(123456, 77)
    assert await second.failed_before(123456, 77) and not await second.failed_before(654321, 77)
    here = FailedUpdates()  # without Redis: this process's own
    await here.note(123456, 78)
    assert await here.failed_before(123456, 78) and not await first.failed_before(123456, 78)
