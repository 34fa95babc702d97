"""The real dispatcher, polling the sandbox over HTTP, on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher
from bot.settings import Settings, load_settings
from sandbox import SandboxServer
from sandbox.client import SandboxClient, SimUser
from shop.catalog import import_products_csv
from storage.uow import UnitOfWork
from tests.conftest import TOKEN

CATALOG = """sku,name,category,price,stock,brand,description,photo,featured,active
TEA-1,Green tea,Tea,4.50,10,Leafy,Sencha <fresh> & green,tea.png,yes,yes
TEA-2,Black tea,Tea,3.50,0,Leafy,Strong,,no,yes
TEA-3,Mint tea,Tea,2.50,5,Herbal,Fresh mint,,no,yes
TEA-4,Earl Grey,Tea,2.70,5,Leafy,Bergamot,,no,yes
TEA-5,Chai,Tea,3.70,5,Spice & Co,Spiced,,no,yes
TEA-6,Rooibos,Tea,2.60,5,Herbal,Red bush,,no,yes
TEA-7,Matcha,Tea,6.00,5,Leafy,Whisked,,no,yes
CAKE-1,Lemon cake,Cakes,3.00,1,,The last one,,no,yes
CAKE-2,Hidden cake,Cakes,3.00,5,,Not for sale,,no,no
"""


@dataclass
class Shop:
    client: SandboxClient
    sandbox: SandboxServer
    settings: Settings
    uow: Any
    dp: Dispatcher
    bot: Bot

    owner: SimUser | None = None
    polling: asyncio.Task[None] | None = None

    async def customer(self, name: str = "Ann", language: str = "en", **extra: Any) -> SimUser:
        return await self.client.create_user(name, language_code=language, **extra)

    async def started(self, name: str = "Ann", language: str = "en") -> SimUser:
        user = await self.customer(name, language)
        await user.send("/start")
        await user.wait_for(text="/help" if language == "en" else "/help")
        return user


@pytest.fixture
async def shop(
    sandbox: SandboxServer,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Shop]:
    Image.new("RGB", (64, 48), (40, 160, 90)).save(tmp_path / "tea.png")
    client = SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0]))
    owner = await client.create_user("Olga", username="olga_owner")
    group = request.node.get_closest_marker("staff_group")
    staff_chat = (await client.create_group("Shop staff", [owner]))["id"] if group else None
    throttle = request.node.get_closest_marker("throttle")
    burst, per_second = (throttle.kwargs["burst"], throttle.kwargs["per_second"]) if throttle else (50, 50)
    more = request.node.get_closest_marker("settings")
    settings = load_settings(
        bot_token=TOKEN,
        telegram_api_url=sandbox.url,
        database_url="sqlite+aiosqlite://",
        media_dir=str(tmp_path),
        shop_name="Test & <Shop>",
        currency="USD",
        payment_methods="transfer,cash,pos,mobile_money",
        bank_details="Bank of Tests\nIBAN GB00 TEST 0000 0000",
        delivery_fee="2.00",
        throttle_burst=burst,
        throttle_per_second=per_second,
        admin_ids=str(owner.id),
        staff_chat_id=staff_chat,
        **(
            {"payment_provider_token": "284685063:TEST:sandbox", "stars_enabled": True, "stars_per_unit": 10}
            if request.node.get_closest_marker("telegram_payments")
            else {}
        ),
        **(more.kwargs if more else {}),
    )
    async with UnitOfWork(session_factory) as uow:
        result = await import_products_csv(uow, CATALOG, "USD", tmp_path)
        assert not result.errors, result.errors
    bot = create_bot(settings)
    dp = create_dispatcher(settings, session_factory)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    async with client:
        await owner.send("/start")  # the owner has opened the chat, so alerts can reach them
        await owner.wait_for(text="Hello")
        shop = Shop(client, sandbox, settings, lambda: UnitOfWork(session_factory), dp, bot, owner, polling)
        yield shop
        if "allow_bot_errors" not in request.keywords:
            refused = [c for c in await client.calls() if not c["ok"] and c["error"]["error_code"] != 429]
            assert not refused, f"Telegram would have refused these calls: {refused}"
    await dp.stop_polling()
    await (shop.polling or polling)
    await bot.session.close()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]


def callback_of(message: dict[str, Any], label: str) -> str:
    """The callback data of the message's inline button with this label (to press it by hand)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


def button_labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
