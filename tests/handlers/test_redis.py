"""With REDIS_URL, conversation state and the throttle are shared by workers (skips without Redis)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.app import create_dispatcher
from bot.middlewares import RedisRate
from bot.settings import load_settings
from handlers.states import Checkout
from tests.conftest import TOKEN

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
