"""Who may use the staff routers: owners and staff, in a private chat or the staff group."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, User

from shop.config import ShopConfig
from shop.staff import role_of
from storage.uow import UnitOfWork

STAFF_COMMANDS = (
    "queue",
    "order",
    "pay",
    "verify",
    "reject",
    "payments",
    "status",
    "pickup",
    "staff",
    "staffhelp",
    "customers",
    "customer",
    "note",
    "stock",
    "price",
    "hide",
    "show",
    "import",
    "export",
    "report",
    "refund",
    "product",
    "broadcast",
)


class IsStaff(Filter):
    """Passes staff (and tells the handler their role); everyone else falls through to the refusal."""

    async def __call__(
        self,
        event: Message | CallbackQuery,
        uow: UnitOfWork,
        config: ShopConfig,
        event_from_user: User | None = None,
        **_: Any,
    ) -> bool | dict[str, Any]:
        if event_from_user is None:
            return False
        message = event if isinstance(event, Message) else event.message
        chat = message.chat if message is not None else None
        if chat is None or not (chat.type == "private" or chat.id == config.staff_chat_id):
            return False
        role = await role_of(uow, event_from_user.id, config)
        await uow.end_read()
        return {"staff_role": role} if role else False
