"""Order history, detail with timeline, cancel, reorder, and receipt photos for transfers."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from shop import orders
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.models import Customer
from storage.uow import UnitOfWork

from .. import keyboards
from ..answers import MenuButton, explain, show
from ..callbacks import OrderAction, OrderCb
from ..render import Texts

router = Router(name="orders")
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private
PAGE_SIZE = 5


@router.message(Command("orders"))
@router.message(MenuButton("orders"))
async def orders_command(message: Message, t: Texts, customer: Customer, uow: UnitOfWork) -> None:
    page = await orders.history(uow, customer.id, 0, PAGE_SIZE)
    await message.answer(
        t("orders.history", page=page), reply_markup=keyboards.orders(t, page.orders, page.page, page.pages)
    )


@router.callback_query(OrderCb.filter())
async def order_pressed(
    callback: CallbackQuery,
    callback_data: OrderCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
) -> None:
    action, order_id, page_number = callback_data.action, callback_data.id, callback_data.page
    try:
        if action == OrderAction.list:
            page = await orders.history(uow, customer.id, page_number, PAGE_SIZE)
            await callback.answer()
            await show(
                callback,
                t("orders.history", page=page),
                keyboards.orders(t, page.orders, page.page, page.pages),
            )
            return
        if action == OrderAction.reorder:
            result = await orders.reorder(uow, customer.id, order_id, config)
            await callback.answer()
            if isinstance(callback.message, Message):
                await callback.message.answer(t("orders.reordered", result=result))
            return
        if action == OrderAction.confirm_cancel:
            order = await orders.cancel_by_customer(uow, customer.id, order_id, config)
            passed_on = order.status != "cancelled"  # money may be on it: the shop decides
            await callback.answer(
                t("orders.cancel_passed_on" if passed_on else "orders.cancelled", order=order),
                show_alert=passed_on,
            )
        else:
            order = await orders.customer_order(uow, customer.id, order_id)
        if action == OrderAction.cancel:
            await callback.answer()
            await show(
                callback,
                t("orders.confirm_cancel", order=order),
                keyboards.confirm_cancel(t, order, page_number),
            )
            return
    except DomainError as error:
        await explain(callback, t, error)
        return
    if action == OrderAction.open:
        await callback.answer()
    refusal = orders.cancel_refusal(order, config)
    view = t.page("orders.detail", callback_data.part, order=order, refusal=refusal)
    await show(callback, view.text, keyboards.order(t, order, refusal is None, page_number, view))


@router.message(F.photo)
async def receipt_photo(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig
) -> None:
    """A photo outside any conversation is a payment receipt for the newest unpaid order."""
    assert message.photo
    try:
        order = await orders.attach_receipt(uow, customer.id, message.photo[-1].file_id, config)
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("checkout.receipt_saved", order=order))
