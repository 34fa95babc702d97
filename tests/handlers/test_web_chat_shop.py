"""A customer's view of the shop in the web chat (headless Chromium): browse, add, check the cart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ARTIFACTS
from tests.handlers.conftest import Shop

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the page is the same on any database
async def test_shopping_in_the_web_chat(shop: Shop, page: Any) -> None:
    await page.goto(shop.sandbox.url + "/")
    await page.fill("#nu-name", "Maya")
    await page.click("#newuser button")
    await page.wait_for_selector("#title:has-text('talking as Maya')")
    await page.fill("#text", "/start")
    await page.press("#text", "Enter")
    await page.wait_for_selector(".msg.bot:has-text('Welcome to Test & <Shop>')")
    await page.click("#replykb button:has-text('Catalog')")
    await page.click(".kb button:has-text('Tea (7)')")
    await page.wait_for_selector(".msg.bot:has-text('page 1 of 2')")
    await page.click(".kb button:has-text('Green tea')")
    await page.wait_for_selector(".msg.bot img.photo")
    await page.click(".kb button:has-text('+')")
    await page.wait_for_selector(".kb button:has-text('Add 2 to cart')")
    await page.click(".kb button:has-text('Add 2 to cart')")
    await page.wait_for_selector("#toast:has-text('Added 2 × Green tea')")
    await page.click("#replykb button:has-text('Cart')")
    await page.wait_for_selector(".msg.bot:has-text('Total: $9.00')")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-chat-shop.png"))  # docs/web-chat.png is one of these
