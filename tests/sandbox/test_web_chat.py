"""A person's view: the web chat in headless Chromium, talking to a real aiogram bot."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox import SandboxServer
from tests.conftest import ARTIFACTS, TOKEN

pytestmark = pytest.mark.browser
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture
async def page(sandbox: SandboxServer) -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        await browser.close()
        assert not errors, errors


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
