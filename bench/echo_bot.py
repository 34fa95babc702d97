"""The ceiling for ``bench updates``: a bare aiogram bot that answers every update and does nothing else.

A message is echoed with one inline button; a press is answered and the message edited, so each update
costs the same Bot API calls as a simple handler of ours, without a database, templates or middlewares.
Run as ``python -m bench.echo_bot`` with BOT_TOKEN and TELEGRAM_API_URL set.
"""

from __future__ import annotations

import asyncio
import gc
import os

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.telegram_session import JsonSession, loads_without_echo

dp = Dispatcher()


def again(count: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="again", callback_data=f"again:{count}")]]
    )


# No filters: aiogram runs a plain filter such as ``F.text`` through a thread (``asyncio.to_thread``), and
# orderbot runs its filters on the loop (handlers.run_filters_inline); the ceiling must not pay what we
# do not.
@dp.message()
async def echo(message: Message) -> None:
    await message.answer(message.text or "got it", reply_markup=again(0))


@dp.callback_query()
async def pressed(callback: CallbackQuery) -> None:
    count = int((callback.data or "again:0").split(":")[1]) + 1
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"pressed {count}", reply_markup=again(count))


async def main() -> None:
    # As orderbot's session (bot.app.create_bot): parameters sent as JSON, and the keyboard and
    # formatting echoed back in each answer not read.
    session = JsonSession(
        api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]), json_loads=loads_without_echo
    )
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    # As ``orderbot run`` does (bot.runner.prepare): what startup made is kept out of the collector's
    # sight. Without it each full collection walked aiogram's ~190 000 objects (100-200 ms, 17 times a
    # run), so the ceiling measured the collector.
    gc.collect()
    gc.freeze()
    await dp.start_polling(bot, polling_timeout=20, handle_signals=True)


if __name__ == "__main__":
    # The loop ``orderbot run`` uses (bot.cli.serve), so the ceiling and our bot differ only in our code;
    # bot.cli is not imported here, as it would bring the shop's modules into the bare bot.
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
