"""Staff keyboards: pure functions of data."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from shop.crm import CUSTOMER_TYPES
from shop.orders import OrderStatus, Queue
from storage.models import Order

from ..keyboards import InlineKeyboardBuilder, pager
from ..limits import TextPage
from ..render import Texts
from .callbacks import BroadcastCb, CustomerCb, CustomerTypeCb, StaffAction, StaffCb


def record_payment(
    t: Texts, number: int, due_minor: int, methods: Sequence[str]
) -> InlineKeyboardMarkup | None:
    """One tap per way of paying, for what is due on the order; none when nothing is."""
    if due_minor <= 0:
        return None
    kb = InlineKeyboardBuilder()
    for method in methods:
        kb.button(
            text=t.label("staff_record_method", method=method, amount=due_minor),
            callback_data=StaffCb(action=StaffAction.record, order=number, method=method, amount=due_minor),
        )
    kb.adjust(2)
    return kb.as_markup()


def collect(t: Texts, number: int, due_minor: int, method: str) -> InlineKeyboardMarkup:
    """One tap: the money due taken at handover, and the order completed."""
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t.label("staff_collected", amount=due_minor, method=method),
        callback_data=StaffCb(action=StaffAction.collect, order=number, method=method, amount=due_minor),
    )
    return kb.as_markup()


def order_actions(
    t: Texts,
    number: int,
    payment_id: int | None = None,
    view: TextPage | None = None,
    *,
    prepare: bool = False,
) -> InlineKeyboardMarkup:
    """What staff do with an order; ``view``: the page of the order shown, when it takes more than one;
    ``prepare``: it is paid at handover and not started yet, so starting it comes first."""
    kb = InlineKeyboardBuilder()
    if prepare:
        kb.button(
            text=t.label("staff_start_preparing"),
            callback_data=StaffCb(action=StaffAction.start, order=number),
        )
    kb.button(
        text=t.label("staff_record_payment"), callback_data=StaffCb(action=StaffAction.pay, order=number)
    )
    if payment_id:
        kb.button(
            text=t.label("staff_verify", id=payment_id),
            callback_data=StaffCb(action=StaffAction.verify, order=number, payment=payment_id),
        )
    kb.button(
        text=t.label("staff_set_status"), callback_data=StaffCb(action=StaffAction.statuses, order=number)
    )
    kb.button(
        text=t.label("staff_customer"), callback_data=StaffCb(action=StaffAction.customer, order=number)
    )
    kb.adjust(2)
    if view is not None:
        pager(
            kb,
            t,
            view.page,
            view.pages,
            lambda n: StaffCb(action=StaffAction.order, order=number, page=n).pack(),
        )
    return kb.as_markup()


def customer(t: Texts, customer_id: int, view: TextPage) -> InlineKeyboardMarkup:
    """A customer's profile: their type (a press sets it), and pages when it takes more than one."""
    kb = InlineKeyboardBuilder()
    for kind in CUSTOMER_TYPES:
        kb.button(
            text=t.label("customer_type", kind=kind),
            callback_data=CustomerTypeCb(customer=customer_id, kind=kind),
        )
    kb.adjust(4)
    pager(kb, t, view.page, view.pages, lambda n: CustomerCb(customer=customer_id, page=n).pack())
    return kb.as_markup()


def payments(t: Texts, pending_only: bool, view: TextPage) -> InlineKeyboardMarkup | None:
    """The pages of a list of payments too long for one message; none when it fits."""
    if view.pages == 1:
        return None
    kb = InlineKeyboardBuilder()
    status = "pending" if pending_only else ""
    pager(
        kb,
        t,
        view.page,
        view.pages,
        lambda n: StaffCb(action=StaffAction.payments, status=status, page=n).pack(),
    )
    return kb.as_markup()


def statuses(t: Texts, order: Order, allowed: Sequence[OrderStatus]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for status in allowed:
        kb.button(
            text=t.label("status_name", status=status.value),
            callback_data=StaffCb(action=StaffAction.set_status, order=order.id, status=status.value),
        )
    kb.button(text=t.label("back"), callback_data=StaffCb(action=StaffAction.order, order=order.id))
    kb.adjust(2)
    return kb.as_markup()


def queue(t: Texts, waiting: Queue) -> InlineKeyboardMarkup | None:
    """A button for each order on this page of the queue, and the pages; none when nothing waits."""
    if not waiting.orders:
        return None
    kb = InlineKeyboardBuilder()
    for order in waiting.orders:
        kb.row(
            InlineKeyboardButton(
                text=t.label(
                    "order",
                    number=order.number,
                    total_minor=order.total_minor,
                    status=order.status,
                    method=order.payment_method,
                ),
                callback_data=StaffCb(action=StaffAction.order, order=order.id).pack(),
            )
        )
    pager(kb, t, waiting.page, waiting.pages, lambda n: StaffCb(action=StaffAction.queue, page=n).pack())
    return kb.as_markup()


def audiences(t: Texts, choices: Sequence[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for audience in choices:
        kb.button(
            text=t.label("audience_name", audience=audience),
            callback_data=BroadcastCb(action="a", value=audience),
        )
    kb.button(text=t.label("cancel"), callback_data=BroadcastCb(action="x"))
    kb.adjust(2)
    return kb.as_markup()


def broadcast_confirm(t: Texts) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.label("send_broadcast"), callback_data=BroadcastCb(action="s"))
    kb.button(text=t.label("change_audience"), callback_data=BroadcastCb(action="b"))
    kb.button(text=t.label("cancel"), callback_data=BroadcastCb(action="x"))
    kb.adjust(1)
    return kb.as_markup()
