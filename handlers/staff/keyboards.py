"""Staff keyboards: pure functions of data."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup

from shop.orders import OrderStatus
from storage.models import Order

from ..keyboards import InlineKeyboardBuilder
from ..render import Texts
from .callbacks import BroadcastCb, StaffAction, StaffCb


def order_actions(t: Texts, number: int, payment_id: int | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
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


def queue(t: Texts, orders: Sequence[Order]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for order in orders:
        kb.button(
            text=t.label("order", number=order.number, total_minor=order.total_minor, status=order.status),
            callback_data=StaffCb(action=StaffAction.order, order=order.id),
        )
    kb.adjust(1)
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
