"""Staff: the queue, one order, status changes (commands and buttons), pickups, payments, the team."""

from __future__ import annotations

from collections.abc import Awaitable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User

from shop import crm, orders, payments, staff, telegram_payments
from shop.config import ShopConfig
from shop.errors import DomainError
from shop.money import format_plain
from storage.models import Order
from storage.uow import UnitOfWork

from ..answers import explain, run_and_answer, show, whole_number
from ..render import Texts
from . import keyboards
from .access import IsStaff
from .callbacks import StaffAction, StaffCb

router = Router(name="staff")
router.message.filter(IsStaff())
router.callback_query.filter(IsStaff())


async def _order_view(
    t: Texts, uow: UnitOfWork, order_id: int, config: ShopConfig, page: int = 0
) -> tuple[str, object]:
    order = await orders.staff_order(uow, order_id)
    paid = await payments.order_payments(uow, order.id)
    pending = next((p.id for p in paid if p.status == "pending"), None)
    view = t.page("staff.order", page, order=order, payments=paid, names=await crm.actors(uow, order))
    prepare = orders.starts_unpaid(order.status, order.payment_method, config)
    return view.text, keyboards.order_actions(t, order.id, pending, view, prepare=prepare)


@router.message(Command("staffhelp"))
async def staff_help(message: Message, t: Texts) -> None:
    await message.answer(t("staff.help"))


@router.message(Command("queue"))
async def queue(message: Message, t: Texts, uow: UnitOfWork) -> None:
    waiting = await orders.queue(uow)
    await message.answer(t("staff.queue", waiting=waiting), reply_markup=keyboards.queue(t, waiting))


@router.callback_query(StaffCb.filter(F.action == StaffAction.queue))
async def queue_page(callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork) -> None:
    waiting = await orders.queue(uow, callback_data.page)
    await callback.answer()
    await show(callback, t("staff.queue", waiting=waiting), keyboards.queue(t, waiting))


@router.message(Command("order"))
async def order_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    number = whole_number(command.args)
    if number is None:
        await message.answer(t("staff.usage", command="order"))
        return
    try:
        text, markup = await _order_view(t, uow, number, config)
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(text, reply_markup=markup)  # type: ignore[arg-type]


@router.message(Command("status"))
async def status_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    parts = (command.args or "").split(maxsplit=2)
    number = whole_number(parts[0]) if parts else None
    if number is None or len(parts) < 2:
        await message.answer(t("staff.usage", command="status"))
        return
    try:
        status = orders.parse_status(parts[1])
    except DomainError as error:
        await explain(message, t, error)
        return
    note = parts[2] if len(parts) > 2 else None
    order = await _moved(
        message, t, orders.change_status(uow, number, status, event_from_user.id, note, config)
    )
    if order is not None:
        await message.answer(t("staff.status_changed", order=order))


@router.message(Command("pickup"))
async def pickup_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    code = (command.args or "").strip()
    if not code:
        await message.answer(t("staff.usage", command="pickup"))
        return
    order = await _moved(message, t, orders.complete_pickup(uow, code, event_from_user.id, config))
    if order is not None:
        await message.answer(t("staff.status_changed", order=order))


async def _moved(event: Message | CallbackQuery, t: Texts, work: Awaitable[Order]) -> Order | None:
    """Move an order on; an order handed over unpaid asks for the money first (one tap when it is what
    is due); any other refusal is explained."""
    try:
        return await work
    except orders.MoneyToCollect as due:
        number, amount, method = due.params["number"], due.params["due_minor"], due.params["method"]
        text = t("staff.collect", number=number, due=amount, method=method)
        markup = keyboards.collect(t, number, amount, method)
        if isinstance(event, CallbackQuery):
            await event.answer()
            await show(event, text, markup)
        else:
            await event.answer(text, reply_markup=markup)
    except DomainError as error:
        await explain(event, t, error)
    return None


# --- payments -------------------------------------------------------------------------------------------
@router.message(Command("pay"))
async def pay_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    parts = (command.args or "").split()
    number = whole_number(parts[0]) if parts else None
    if number is None or len(parts) not in (3, 4):
        await message.answer(t("staff.usage", command="pay"))
        return
    reference = parts[3] if len(parts) == 4 else None
    work = payments.record_payment(uow, number, parts[1], parts[2], reference, event_from_user.id, config)
    await run_and_answer(message, t, work, "staff.payment_recorded", "s")


@router.message(Command("verify"))
async def verify_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    payment_id = whole_number(command.args)
    if payment_id is None:
        await message.answer(t("staff.usage", command="verify"))
        return
    work = payments.verify_payment(uow, payment_id, event_from_user.id, config)
    await run_and_answer(message, t, work, "staff.payment_recorded", "s")


@router.message(Command("reject"))
async def reject_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    parts = (command.args or "").split(maxsplit=1)
    payment_id = whole_number(parts[0]) if parts else None
    if payment_id is None:
        await message.answer(t("staff.usage", command="reject"))
        return
    try:
        payment = await payments.reject_payment(
            uow, payment_id, event_from_user.id, parts[1] if len(parts) > 1 else None, config
        )
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("staff.payment_rejected", payment=payment))


@router.message(Command("payments"))
async def payments_command(message: Message, command: CommandObject, t: Texts, uow: UnitOfWork) -> None:
    argument = (command.args or "").strip().lower()
    if argument not in ("", "pending"):
        await message.answer(t("staff.usage", command="payments"))
        return
    text, markup = await _payments(t, uow, argument == "pending", 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(StaffCb.filter(F.action == StaffAction.payments))
async def payments_page(callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork) -> None:
    text, markup = await _payments(t, uow, callback_data.status == "pending", callback_data.page)
    await callback.answer()
    await show(callback, text, markup)


async def _payments(
    t: Texts, uow: UnitOfWork, pending_only: bool, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    listing = await payments.payments_list(uow, pending_only=pending_only)
    view = t.page(
        "staff.payments", page, payments=listing.payments, pending_only=pending_only, total=listing.total
    )
    return view.text, keyboards.payments(t, pending_only, view)


@router.message(Command("refund"))
async def refund_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
    bot: Bot,
) -> None:
    """Owners give back a Telegram Stars payment; Telegram first, then the books."""
    number = whole_number(command.args)
    if number is None:
        await message.answer(t("staff.usage", command="refund"))
        return
    try:
        user_id, charge_id = await telegram_payments.stars_refund_target(
            uow, number, event_from_user.id, config
        )
        await uow.end_read()
        await bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)
    except DomainError as error:
        await explain(message, t, error)
        return
    except TelegramBadRequest as error:
        await message.answer(t("staff.refund_refused", reason=error.message))
        return
    order = await telegram_payments.mark_refunded(uow, number, charge_id, event_from_user.id, config)
    await message.answer(t("staff.refunded", order=order))


# --- the team -------------------------------------------------------------------------------------------
@router.message(Command("staff"))
async def staff_command(
    message: Message,
    command: CommandObject,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    parts = (command.args or "").split()
    if not parts:
        members = await uow.staff.all()
        names = await crm.who(uow, [*config.admin_ids, *(m.telegram_id for m in members)])
        await message.answer(t("staff.team", owners=config.admin_ids, members=members, names=names))
        return
    user_id = whole_number(parts[1]) if len(parts) == 2 else None
    if parts[0] not in ("add", "remove") or user_id is None:
        await message.answer(t("staff.usage", command="staff"))
        return
    try:
        if parts[0] == "add":
            changed = await staff.add_staff(uow, event_from_user.id, user_id, config)
        else:
            changed = await staff.remove_staff(uow, event_from_user.id, user_id, config)
    except DomainError as error:
        await explain(message, t, error)
        return
    name = (await crm.who(uow, [user_id])).get(user_id)  # of someone who has written to the shop
    await message.answer(
        t("staff.team_changed", action=parts[0], user_id=user_id, changed=changed, name=name)
    )


# --- buttons --------------------------------------------------------------------------------------------
@router.callback_query(StaffCb.filter(F.action == StaffAction.order))
async def order_button(
    callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    try:
        text, markup = await _order_view(t, uow, callback_data.order, config, callback_data.page)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    await show(callback, text, markup)  # type: ignore[arg-type]


@router.callback_query(StaffCb.filter(F.action == StaffAction.statuses))
async def statuses_button(
    callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    try:
        order = await orders.staff_order(uow, callback_data.order)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(
            t("staff.choose_status", order=order),
            reply_markup=keyboards.statuses(t, order, orders.allowed_next(order, config)),
        )


@router.callback_query(StaffCb.filter(F.action == StaffAction.set_status))
async def set_status_button(
    callback: CallbackQuery,
    callback_data: StaffCb,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    try:
        status = orders.parse_status(callback_data.status)
    except DomainError as error:
        await explain(callback, t, error)
        return
    work = orders.change_status(uow, callback_data.order, status, event_from_user.id, None, config)
    order = await _moved(callback, t, work)
    if order is None:
        return
    await callback.answer()
    await show(callback, t("staff.status_changed", order=order))


@router.callback_query(StaffCb.filter(F.action == StaffAction.start))
async def start_button(
    callback: CallbackQuery,
    callback_data: StaffCb,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    """Start preparing, from an order's alert or view: that message becomes the order as it is now (its
    status, payments and buttons), and the move is told below it."""
    preparing = orders.OrderStatus.preparing
    work = orders.change_status(uow, callback_data.order, preparing, event_from_user.id, None, config)
    order = await _moved(callback, t, work)
    if order is None:
        return
    await callback.answer()
    text, markup = await _order_view(t, uow, order.id, config)
    await show(callback, text, markup)  # type: ignore[arg-type]
    if isinstance(callback.message, Message):
        await callback.message.answer(t("staff.status_changed", order=order))


@router.callback_query(StaffCb.filter(F.action == StaffAction.pay))
async def pay_button(
    callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    """A short guided step: what is due, one tap per way of paying; another amount by /pay."""
    try:
        order, due = await payments.still_due(uow, callback_data.order)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(
            t("staff.how_to_pay", order=order, due=due),
            reply_markup=keyboards.record_payment(t, order.number, due, config.payment_methods),
        )


@router.callback_query(StaffCb.filter(F.action.in_({StaffAction.record, StaffAction.collect})))
async def record_button(
    callback: CallbackQuery,
    callback_data: StaffCb,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    """One tap: the payment the button names is recorded (an employee's waits for an owner); money taken
    at handover (``collect``) then completes the order."""
    amount = format_plain(callback_data.amount, config.currency)
    try:
        settlement = await payments.record_payment(
            uow,
            callback_data.order,
            amount,
            callback_data.method,
            None,
            event_from_user.id,
            config,
            expect_due_minor=callback_data.amount,
        )
    except payments.DueChanged as changed:
        if callback_data.action == StaffAction.record or changed.params["due_minor"]:
            await explain(callback, t, changed)
            return
        await uow.rollback()  # the money is in already (recorded meanwhile): hand the order over
        settlement = None
    except DomainError as error:
        await explain(callback, t, error)
        return
    if callback_data.action == StaffAction.record:
        await callback.answer()
        await show(callback, t("staff.payment_recorded", s=settlement))
        return
    completed = orders.OrderStatus.completed
    order = await _moved(
        callback,
        t,
        orders.change_status(uow, callback_data.order, completed, event_from_user.id, None, config),
    )
    if order is not None:
        text = t("staff.status_changed", order=order)
        if settlement is not None and settlement.payment.status == "pending":  # an employee took it
            text += "\n" + t("staff.taken_waits", payment=settlement.payment)
        await callback.answer()
        await show(callback, text)


@router.callback_query(StaffCb.filter(F.action == StaffAction.verify))
async def verify_button(
    callback: CallbackQuery,
    callback_data: StaffCb,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    event_from_user: User,
) -> None:
    try:
        settlement = await payments.verify_payment(uow, callback_data.payment, event_from_user.id, config)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(t("staff.payment_recorded", s=settlement))


@router.callback_query(StaffCb.filter(F.action == StaffAction.customer))
async def customer_button(callback: CallbackQuery, callback_data: StaffCb, t: Texts, uow: UnitOfWork) -> None:
    try:
        order = await orders.staff_order(uow, callback_data.order)
    except DomainError as error:
        await explain(callback, t, error)
        return
    history = await uow.orders.all_for_customer(order.customer_id)
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(t("staff.customer", customer=order.customer, orders=history))
