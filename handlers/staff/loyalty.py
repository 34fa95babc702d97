"""Staff: ``/points ID`` shows a customer's points; owners' ``/points ID +N|-N reason`` adjusts them, recorded
as the owner's (not the chat's: in the staff group that is the group)."""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, User

from shop import loyalty
from shop.config import ShopConfig
from shop.crm import CustomerNotFound
from shop.errors import DomainError
from storage.models import utcnow
from storage.uow import UnitOfWork

from ..answers import explain
from ..render import Texts
from .access import IsStaff

router = Router(name="staff_loyalty")
router.message.filter(IsStaff())
_ARGS = re.compile(r"^#?([0-9]{1,12})(?:\s+([+-][0-9]{1,9})(?:\s+(.*))?)?$", re.S)


@router.message(Command("points", magic=F.args))
async def points_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
    staff_role: str,
) -> None:
    match = _ARGS.match((command.args or "").strip())
    if not match:
        await message.answer(t("loyalty.staff_usage"))
        return
    customer_id, change, reason = int(match.group(1)), match.group(2), match.group(3) or ""
    try:
        customer = await uow.customers.get(customer_id)
        if customer is None or customer.deleted_at is not None:
            raise CustomerNotFound(id=customer_id)
        if change:
            entry = await loyalty.adjust(uow, customer, int(change), reason, event_from_user.id, config)
            await message.answer(t("loyalty.adjusted", customer=customer, entry=entry))
            return
        view = await loyalty.points_view(uow, customer.id, config, utcnow())
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("loyalty.staff_points", customer=customer, view=view, owner=staff_role == "owner"))
