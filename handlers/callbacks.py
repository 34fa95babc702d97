"""Callback data: CallbackData factories with short prefixes and integer ids (64-byte limit)."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from pydantic_core import PydanticUndefined

INT64 = range(-(2**63), 2**63)  # what a database column of ids holds


class Lasting:
    """Callback data that gains fields over time (mixed in before ``CallbackData``). A button sent before
    a field was added carries data shorter by the fields added since; it is read with their defaults,
    not refused as out of date. So a field is added last, with a default.

    A number no database id can be (a forged button's 25 digits) makes the data unreadable, like any
    other malformed data: the press is answered as a stale button."""

    @classmethod
    def unpack(cls, value: str) -> Any:
        fields = list(cls.model_fields.values())  # type: ignore[attr-defined]
        separator = cls.__separator__  # type: ignore[attr-defined]
        given = value.count(separator)
        if given < len(fields) and all(field.default is not PydanticUndefined for field in fields[given:]):
            value += "".join(separator + _packed(field.default) for field in fields[given:])
        data = super().unpack(value)  # type: ignore[misc]
        for number in data.__dict__.values():
            if type(number) is int and number not in INT64:
                raise ValueError(f"{number} is out of range")
        return data


def _packed(default: Any) -> str:
    return str(default.value if isinstance(default, Enum) else default)


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


class MenuCb(Lasting, CallbackData, prefix="m"):
    to: Menu
    page: int = 0  # the catalog's categories come in pages


class CatalogCb(Lasting, CallbackData, prefix="c"):
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


class ProductCb(Lasting, CallbackData, prefix="p"):
    action: ProductAction
    id: int
    qty: int = 1


class SearchCb(Lasting, CallbackData, prefix="s"):
    page: int


class CartAction(StrEnum):
    show = "s"
    inc = "i"
    dec = "d"
    remove = "r"
    clear = "c"
    checkout = "k"


class CartCb(Lasting, CallbackData, prefix="k"):
    action: CartAction
    id: int = 0
    page: int = 0  # the page of the cart the press came from (or, to show, goes to)


class CheckoutAction(StrEnum):
    fulfilment = "f"
    saved_address = "a"
    skip_notes = "n"
    payment = "p"
    place = "o"
    points = "t"
    page = "g"  # id: the page of the summary to show
    back = "b"
    cancel = "x"


class CheckoutCb(Lasting, CallbackData, prefix="o"):
    action: CheckoutAction
    value: str = ""
    id: int = 0


class OrderAction(StrEnum):
    list = "l"
    open = "o"
    cancel = "c"
    confirm_cancel = "y"
    reorder = "r"


class OrderCb(Lasting, CallbackData, prefix="r"):
    action: OrderAction
    id: int = 0
    page: int = 0  # the page of the order list to go back to
    part: int = 0  # the page of an order too long for one message


class ProfileAction(StrEnum):
    language = "l"
    marketing = "m"
    reminders = "r"
    forget = "f"
    forget_confirm = "y"
    keep = "n"
    page = "p"  # value: the page of the profile to show


class ProfileCb(Lasting, CallbackData, prefix="u"):
    action: ProfileAction
    value: str = ""
