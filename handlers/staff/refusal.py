"""Everyone who is not staff: staff commands and buttons get a plain refusal, and nothing changes."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from ..render import Texts
from .access import STAFF_BUTTONS, STAFF_COMMANDS

router = Router(name="staff_refusal")


@router.message(Command(*STAFF_COMMANDS))
@router.message(Command("points", magic=F.args))  # a customer's own /points has no arguments
@router.message(F.document, F.caption.startswith("/import"))
async def refuse_command(message: Message, t: Texts) -> None:
    await message.answer(t("staff.refused"))


async def refuse_button(callback: CallbackQuery, t: Texts) -> None:
    await callback.answer(t("staff.refused"), show_alert=True)


for button in STAFF_BUTTONS:
    router.callback_query.register(refuse_button, button.filter())
