"""Staff buttons: prefix "st", integer ids only."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class StaffAction(StrEnum):
    order = "o"
    statuses = "s"
    set_status = "t"
    pay = "p"
    verify = "v"
    reject = "r"
    customer = "c"


class StaffCb(CallbackData, prefix="st"):
    action: StaffAction
    order: int = 0
    payment: int = 0
    status: str = ""


class CustomerTypeCb(CallbackData, prefix="sct"):
    customer: int
    kind: str


class NoteTypeCb(CallbackData, prefix="snt"):
    note: int
    kind: str


class ProductEditCb(CallbackData, prefix="spe"):
    action: str  # "keep" | "cancel"


class BroadcastCb(CallbackData, prefix="sb"):
    action: str  # "a" audience chosen | "s" send | "b" back to audiences | "x" cancel
    value: str = ""
