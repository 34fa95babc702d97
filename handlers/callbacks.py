"""Callback data: CallbackData factories with short prefixes and integer ids (64-byte limit)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


def prefix_of(data: str | None) -> str:
    """The kind of button a press came from: its callback data's prefix (aiogram's separator is ":")."""
    return (data or "").split(":", 1)[0]


class Menu(StrEnum):
    catalog = "cat"
    cart = "cart"
    orders = "ord"
    help = "help"
    profile = "prof"
    search = "srch"


class MenuCb(CallbackData, prefix="m"):
    to: Menu


class CatalogCb(CallbackData, prefix="c"):
    """A page of a category (0 = featured) with its filters: brand index, price band, in stock."""

    category: int = 0
    page: int = 0
    brand: int = 0
    band: int = 0
    stock: int = 0
    filters: int = 0  # 1 = show the filter buttons


class ProductAction(StrEnum):
    open = "o"
    qty = "q"
    add = "a"
    type_qty = "t"
    close = "x"


class ProductCb(CallbackData, prefix="p"):
    action: ProductAction
    id: int
    qty: int = 1


class SearchCb(CallbackData, prefix="s"):
    page: int


class CartAction(StrEnum):
    show = "s"
    inc = "i"
    dec = "d"
    remove = "r"
    clear = "c"
    checkout = "k"


class CartCb(CallbackData, prefix="k"):
    action: CartAction
    id: int = 0


class CheckoutAction(StrEnum):
    fulfilment = "f"
    saved_address = "a"
    skip_notes = "n"
    payment = "p"
    place = "o"
    points = "t"
    back = "b"
    cancel = "x"


class CheckoutCb(CallbackData, prefix="o"):
    action: CheckoutAction
    value: str = ""
    id: int = 0


class OrderAction(StrEnum):
    list = "l"
    open = "o"
    cancel = "c"
    confirm_cancel = "y"
    reorder = "r"


class OrderCb(CallbackData, prefix="r"):
    action: OrderAction
    id: int = 0
    page: int = 0


class ProfileAction(StrEnum):
    language = "l"
    marketing = "m"
    reminders = "r"
    forget = "f"
    forget_confirm = "y"
    keep = "n"


class ProfileCb(CallbackData, prefix="u"):
    action: ProfileAction
    value: str = ""
