"""Who may use the staff routers: owners and staff, in a private chat or the staff group."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from shop.config import ShopConfig

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
    """Passes staff (and tells the handler their role); everyone else falls through to the refusal.

    The role comes from ``UnitOfWorkMiddleware`` (``role``), looked up once per update: every staff router
    has this filter, so asking the database here cost a query per router for each customer's update.
    """

    async def __call__(
        self,
        event: Message | CallbackQuery,
        config: ShopConfig,
        role: str | None = None,
        **_: Any,
    ) -> bool | dict[str, Any]:
        if role is None:
            return False
        message = event if isinstance(event, Message) else event.message
        chat = message.chat if message is not None else None
        if chat is None or not (chat.type == "private" or chat.id == config.staff_chat_id):
            return False
        return {"staff_role": role}
