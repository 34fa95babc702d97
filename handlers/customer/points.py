"""/points: the customer's balance, tier, progress, recent entries and what expires soon."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from shop import loyalty
from shop.config import ShopConfig
from storage.models import Customer, utcnow
from storage.uow import UnitOfWork

from ..render import Texts

router = Router(name="points")
router.message.filter(F.chat.type == "private")


@router.message(Command("points"))
async def points_command(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig
) -> None:
    if not config.loyalty_enabled:
        await message.answer(t("loyalty.disabled"))
        return
    view = await loyalty.points_view(uow, customer.id, config, utcnow())
    await message.answer(t("loyalty.points", view=view))
