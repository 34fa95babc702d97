"""Staff buttons: prefix "st", integer ids only."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from ..callbacks import Lasting


class StaffAction(StrEnum):
    queue = "q"
    order = "o"
    statuses = "s"
    set_status = "t"
    pay = "p"
    verify = "v"
    reject = "r"
    customer = "c"
    payments = "y"  # status "pending": only those; page: of the list
    record = "m"  # a payment of ``amount`` by ``method``, recorded with one tap
    collect = "k"  # the same, taken at handover, and the order completed
    start = "b"  # an order paid at handover goes to the kitchen (from its alert, which stays)


class StaffCb(Lasting, CallbackData, prefix="st"):
    action: StaffAction
    order: int = 0
    payment: int = 0
    status: str = ""
    page: int = 0  # of the queue, or of an order too long for one message
    method: str = ""  # record: how it was paid
    amount: int = 0  # record: how much, minor units (what was due when the button was made)


class CustomerCb(Lasting, CallbackData, prefix="scp"):
    """A page of a customer's profile (many addresses or notes take more than one message)."""

    customer: int
    page: int = 0


class CustomerTypeCb(Lasting, CallbackData, prefix="sct"):
    customer: int
    kind: str


class NoteTypeCb(Lasting, CallbackData, prefix="snt"):
    note: int
    kind: str


class ProductEditCb(Lasting, CallbackData, prefix="spe"):
    action: str  # "keep" | "cancel"


class BroadcastCb(Lasting, CallbackData, prefix="sb"):
    action: str  # "a" audience chosen | "s" send | "b" back to audiences | "x" cancel
    value: str = ""
