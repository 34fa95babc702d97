"""A person's view: the web chat in headless Chromium, talking to a real aiogram bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sandbox import SandboxServer
from tests.conftest import ARTIFACTS, TOKEN

pytestmark = pytest.mark.browser


@pytest.fixture
async def polling_bot(sandbox: SandboxServer) -> AsyncIterator[None]:
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from tests.sandbox.tiny_bot import dp

    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    yield
    await dp.stop_polling()
    await task
    await bot.session.close()


async def test_whole_conversation_in_the_browser(sandbox: SandboxServer, polling_bot: None, page) -> None:
    await page.goto(sandbox.url + "/")
    await page.fill("#nu-name", "Ann & <Bob>")
    await page.click("#newuser button")
    await page.wait_for_selector("#title:has-text('talking as Ann & <Bob>')")

    await page.fill("#text", "/start")
    await page.press("#text", "Enter")
    greeting = page.locator(".msg.bot", has_text="Pick a drink")
    await greeting.wait_for()
    # The name arrives escaped and bold, and the page shows it as text, not markup.
    assert await greeting.locator("b").inner_text() == "Ann & <Bob>"

    await page.click(".kb button:has-text('Tea')")
    await page.wait_for_selector(".msg.bot:has-text('You picked Tea')")
    await page.wait_for_selector("#toast:has-text('Tea it is')")
    await page.click("#replykb button:has-text('Share my phone')")
    await page.wait_for_selector(".msg.bot:has-text('Phone saved')")
    await page.wait_for_selector("#replykb", state="hidden")

    await page.fill("#text", "/pay")
    await page.press("#text", "Enter")
    await page.click(".kb button:has-text('Pay')")
    await page.wait_for_selector(".msg.bot:has-text('Paid 25')")
    await page.wait_for_selector(".kb button:has-text('Paid')")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-chat.png"))
