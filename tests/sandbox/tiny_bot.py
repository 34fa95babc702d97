"""A tiny, unmodified aiogram bot used to prove the sandbox speaks Telegram's Bot API.

Run: ``python tests/sandbox/tiny_bot.py`` with BOT_TOKEN, TELEGRAM_API_URL and MODE=polling|webhook
(webhook also needs WEBHOOK_PORT and WEBHOOK_SECRET).
"""

from __future__ import annotations

import asyncio
import html
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

dp = Dispatcher()


@dp.message(CommandStart())
async def start(message: Message) -> None:
    name = html.escape(message.from_user.first_name if message.from_user else "there")
    menu = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Coffee", callback_data="item:1"),
                InlineKeyboardButton(text="Tea", callback_data="item:2"),
            ]
        ]
    )
    await message.answer(f"Hello, <b>{name}</b>! Pick a drink:", reply_markup=menu)


@dp.callback_query(F.data.startswith("item:"))
async def picked(callback: CallbackQuery) -> None:
    drink = {"item:1": "Coffee", "item:2": "Tea"}[callback.data or ""]
    assert callback.message is not None
    await callback.message.edit_text(f"You picked <i>{drink}</i>.")
    await callback.answer(f"{drink} it is")
    phone = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share my phone", request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await callback.message.answer("Where do we call you?", reply_markup=phone)


@dp.message(F.contact)
async def contact(message: Message) -> None:
    assert message.contact is not None
    own = message.contact.user_id == (message.from_user.id if message.from_user else None)
    text = f"Phone saved: {html.escape(message.contact.phone_number)}" if own else "That is not your contact."
    await message.answer(text, reply_markup=ReplyKeyboardRemove())


@dp.message(Command("pay"))
async def invoice(message: Message) -> None:
    await message.answer_invoice(
        title="Coffee",
        description="One flat white",
        payload="order:1",
        currency="XTR",
        prices=[LabeledPrice(label="Coffee", amount=25)],
    )


@dp.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery) -> None:
    await query.answer(ok=query.invoice_payload == "order:1" and query.total_amount == 25)


@dp.message(F.successful_payment)
async def paid(message: Message) -> None:
    assert message.successful_payment is not None
    await message.answer(f"Paid {message.successful_payment.total_amount} ⭐ — thank you!")


@dp.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(html.escape(message.text or ""))


async def main() -> None:
    logging.basicConfig(level=logging.INFO)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["BOT_TOKEN"], session=session, default=DefaultBotProperties(parse_mode="HTML"))
    if os.environ.get("MODE", "polling") == "polling":
        await bot.delete_webhook()
        await dp.start_polling(bot, polling_timeout=5)
        return
    port = int(os.environ["WEBHOOK_PORT"])
    secret = os.environ["WEBHOOK_SECRET"]
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path="/webhook")
    setup_application(app, dp, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await bot.set_webhook(f"http://127.0.0.1:{port}/webhook", secret_token=secret)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
