"""The cart: view with totals, +/−, remove, clear; changes since adding are told first."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from shop import cart as carts
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.models import Customer
from storage.uow import UnitOfWork

from .. import keyboards
from ..answers import MenuButton, explain, show
from ..callbacks import CartAction, CartCb
from ..limits import list_page
from ..render import Texts

router = Router(name="cart")
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private


@router.message(Command("cart"))
@router.message(MenuButton("cart"))
async def cart_command(message: Message, t: Texts, customer: Customer, uow: UnitOfWork) -> None:
    text, markup = _cart(t, await carts.view_cart(uow, customer.id), 0)
    await message.answer(text, reply_markup=markup)


def _cart(t: Texts, view: carts.CartView, page: int) -> tuple[str, InlineKeyboardMarkup]:
    """Page ``page`` of the cart: its lines with their buttons (a cart of any size fits a message)."""
    lines = list_page(view.lines, page, keyboards.CART_PAGE)
    return t("cart.view", cart=view, lines=lines), keyboards.cart(t, view, lines)


@router.callback_query(
    CartCb.filter(
        F.action.in_({CartAction.show, CartAction.inc, CartAction.dec, CartAction.remove, CartAction.clear})
    )
)
async def cart_pressed(
    callback: CallbackQuery,
    callback_data: CartCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
) -> None:
    action, product_id = callback_data.action, callback_data.id
    try:
        if action == CartAction.inc:
            await carts.change_quantity(uow, customer.id, product_id, +1, config)
        elif action == CartAction.dec:
            await carts.change_quantity(uow, customer.id, product_id, -1, config)
        elif action == CartAction.remove:
            await carts.remove_from_cart(uow, customer.id, product_id)
        elif action == CartAction.clear:
            await carts.clear_cart(uow, customer.id)
    except DomainError as error:
        await explain(callback, t, error)
        return
    view = await carts.view_cart(uow, customer.id)
    await callback.answer()
    text, markup = _cart(t, view, callback_data.page)
    if action == CartAction.show and isinstance(callback.message, Message) and callback.message.text is None:
        await callback.message.answer(text, reply_markup=markup)  # pressed on a product photo: a new message
        return
    await show(callback, text, markup)
