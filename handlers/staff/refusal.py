"""Everyone who is not staff: staff commands and buttons get a plain refusal, and nothing changes."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from ..render import Texts
from .access import STAFF_COMMANDS
from .callbacks import BroadcastCb, CustomerTypeCb, NoteTypeCb, ProductEditCb, StaffCb

router = Router(name="staff_refusal")


@router.message(Command(*STAFF_COMMANDS))
@router.message(Command("points", magic=F.args))  # a customer's own /points has no arguments
@router.message(F.document, F.caption.startswith("/import"))
async def refuse_command(message: Message, t: Texts) -> None:
    await message.answer(t("staff.refused"))


@router.callback_query(StaffCb.filter())
@router.callback_query(CustomerTypeCb.filter())
@router.callback_query(NoteTypeCb.filter())
@router.callback_query(ProductEditCb.filter())
@router.callback_query(BroadcastCb.filter())
async def refuse_button(callback: CallbackQuery, t: Texts) -> None:
    await callback.answer(t("staff.refused"), show_alert=True)
