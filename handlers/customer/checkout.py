"""Checkout conversation: fulfilment → address → phone → notes → payment → summary → place.

The FSM holds the step; the draft (and so every answer given) is in the database. Buttons act on the
draft, so a button from a checkout that was cancelled or already placed gets a polite answer.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from shop import cart as carts
from shop import checkout
from shop.config import ShopConfig
from shop.errors import CheckoutChanged, DomainError
from storage.models import CheckoutDraft, Customer
from storage.uow import UnitOfWork

from .. import keyboards
from ..answers import Answer, explain, plain, show
from ..callbacks import CartAction, CartCb, CheckoutAction, CheckoutCb
from ..render import Texts
from ..states import Checkout

router = Router(name="checkout")  # the way in: /checkout, the cart's button, the checkout's buttons
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private
# What a customer types while checking out. Behind one check of the step, so that the messages of
# everyone else (most of them) pass the checkout with it instead of trying each step's handlers.
steps = Router(name="checkout_steps")
# A command (/cart, /orders…) or a tap on the main menu at a step is not an answer: its own handler takes
# it and the checkout stays at that step. (/cancel, /help, /checkout… have handlers before this router.)
steps.message.filter(F.chat.type == "private", StateFilter(Checkout), Answer())
ORDER = [
    Checkout.fulfilment,
    Checkout.address,
    Checkout.phone,
    Checkout.notes,
    Checkout.payment,
    Checkout.summary,
]


async def ask(
    target: Message,
    step: object,
    t: Texts,
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    state: FSMContext,
    cart: carts.CartView | None = None,
    draft: CheckoutDraft | None = None,
    pressed: CallbackQuery | None = None,
) -> None:
    """Ask the question of ``step`` (and remember it as the current step); ``cart``, ``draft``: as this
    update has just read or written them. ``pressed``: the button that answered the question before,
    whose message the next question replaces when it has buttons of its own (the checkout reads as one
    message); the phone's question (a keyboard of the chat's own) comes under it, its buttons gone."""
    await state.set_state(step)  # type: ignore[arg-type]
    try:
        text, markup = await _question(step, t, uow, customer, config, cart, draft)
    except DomainError as error:  # e.g. what was in the cart sold out while the customer answered
        await state.clear()
        await explain(target, t, error)
        return
    if pressed is not None and isinstance(markup, InlineKeyboardMarkup):
        await show(pressed, text, markup)
        return
    if pressed is not None and target.text is not None:
        await target.edit_reply_markup(reply_markup=None)  # the question is answered; its buttons go
    await target.answer(text, reply_markup=markup)


async def _question(
    step: object,
    t: Texts,
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    cart: carts.CartView | None,
    draft: CheckoutDraft | None,
) -> tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup]:
    """The text and buttons of ``step``'s question."""
    if step == Checkout.fulfilment:
        cart = cart if cart is not None else await carts.view_cart(uow, customer.id)
        return t("checkout.ask_fulfilment", cart=cart), keyboards.fulfilment(t)
    if step == Checkout.address:
        saved = await uow.customers.addresses(customer.id)
        return t("checkout.ask_address", has_saved=bool(saved)), keyboards.addresses(t, saved)
    if step == Checkout.phone:
        again = [[KeyboardButton(text=customer.phone)]] if customer.phone else []  # one tap to use again
        markup = ReplyKeyboardMarkup(
            keyboard=[
                *again,
                [KeyboardButton(text=t.label("share_phone"), request_contact=True)],
                [KeyboardButton(text=t.label("back")), KeyboardButton(text=t.label("cancel"))],
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        return t("checkout.ask_phone", saved=customer.phone), markup
    if step == Checkout.notes:
        return t("checkout.ask_notes"), keyboards.notes(t)
    if step == Checkout.payment:
        return t("checkout.ask_payment"), keyboards.payment(t, config.checkout_methods)
    return await _summary(uow, customer, config, t, draft)


async def _summary(
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    t: Texts,
    draft: CheckoutDraft | None = None,
    changes: list[carts.CartChange] | None = None,
    page: int = 0,
) -> tuple[str, InlineKeyboardMarkup]:
    """The summary's text and buttons; ``changes``: what changed in the cart since the customer last saw
    it, when the cart was brought up to date already."""
    summary = await checkout.summary(uow, customer.id, config, draft)
    if changes:
        summary.cart.changes = changes
    view = t.page("checkout.summary", page, summary=summary)
    markup = keyboards.summary(
        t, summary.draft.token, summary.total_minor, view, summary.points_available, summary.draft.use_points
    )
    return view.text, markup


@router.message(Command("checkout"))
async def checkout_command(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    await _start(message, t, customer, uow, config, state)


@router.callback_query(CartCb.filter(F.action == CartAction.checkout))
async def checkout_pressed(
    callback: CallbackQuery,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
    state: FSMContext,
) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await _start(callback.message, t, customer, uow, config, state)


async def _start(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    try:
        _, cart = await checkout.start_checkout(uow, customer)
    except DomainError as error:
        await explain(message, t, error)
        return
    if cart.changes:
        await message.answer(t("cart.changes", cart=cart))
    await ask(message, Checkout.fulfilment, t, uow, customer, config, state, cart)


@router.callback_query(CheckoutCb.filter())
async def checkout_button(
    callback: CallbackQuery,
    callback_data: CheckoutCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
    state: FSMContext,
) -> None:
    action, value = callback_data.action, callback_data.value
    message = callback.message
    if not isinstance(message, Message):
        await callback.answer(t("start.stale_button"), show_alert=True)
        return
    try:
        if action == CheckoutAction.cancel:
            await _cancel(callback, t, customer, uow, state)
            return
        if action == CheckoutAction.place:
            await _place(callback, message, callback_data, t, customer, uow, config, state)
            return
        # A stale button (the checkout was placed or cancelled): the service says CheckoutExpired.
        if action == CheckoutAction.points:
            draft = await checkout.use_points(uow, customer.id, bool(value))
            await callback.answer()
            text, markup = await _summary(uow, customer, config, t, draft)
            await show(callback, text, markup)
            return
        if action == CheckoutAction.page:  # a summary too long for one message
            text, markup = await _summary(uow, customer, config, t, page=callback_data.id)
            await callback.answer()
            await show(callback, text, markup)
            return
        if action == CheckoutAction.back:
            draft = await checkout.current_draft(uow, customer.id)
            step = await _step_before(await state.get_state(), draft.fulfilment)
        elif action == CheckoutAction.fulfilment:
            draft = await checkout.set_fulfilment(uow, customer.id, value)
            step = Checkout.address if draft.fulfilment == "delivery" else Checkout.phone
        elif action == CheckoutAction.saved_address:
            draft = await checkout.use_saved_address(uow, customer.id, callback_data.id)
            step = Checkout.phone
        elif action == CheckoutAction.skip_notes:
            draft = await checkout.set_notes(uow, customer.id, None, config)
            step = Checkout.payment
        else:
            draft = await checkout.set_payment_method(uow, customer.id, value, config)
            step = Checkout.summary
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    await ask(message, step, t, uow, customer, config, state, draft=draft, pressed=callback)


async def _step_before(current: str | None, fulfilment: str | None) -> object:
    names = [s.state for s in ORDER]
    index = names.index(current) if current in names else 1
    previous = ORDER[max(index - 1, 0)]
    if previous == Checkout.address and fulfilment != "delivery":
        previous = Checkout.fulfilment
    return previous


async def _cancel(
    callback: CallbackQuery, t: Texts, customer: Customer, uow: UnitOfWork, state: FSMContext
) -> None:
    await checkout.cancel_checkout(uow, customer.id)
    await state.clear()
    await callback.answer()
    await show(callback, t("checkout.cancelled"))
    if isinstance(callback.message, Message):
        await callback.message.answer(t("start.menu_below"), reply_markup=keyboards.main_menu(t))


async def _place(
    callback: CallbackQuery,
    message: Message,
    pressed: CheckoutCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
    state: FSMContext,
) -> None:
    try:
        placed = await checkout.place_order(
            uow, customer, pressed.value, config, message.message_id, seen_total_minor=pressed.id
        )
    except CheckoutChanged as error:  # the summary as it stands now, to confirm again
        await explain(callback, t, error)
        try:
            text, markup = await _summary(uow, customer, config, t, changes=error.params["changes"])
        except DomainError as why:  # nothing left that can be bought
            await state.clear()
            await show(callback, t("errors.error", code=why.code, params=why.params))
            return
        await show(callback, text, markup)
        return
    await state.clear()
    # The confirmation (and any invoice) went into the outbox with the order: it replaces this summary as
    # soon as this update is done, however this answer fares. A second press hears that it is placed.
    await callback.answer(None if placed.created else plain(t("checkout.placed_already", order=placed.order)))


# --- typed answers ------------------------------------------------------------------------------------
@steps.message(Checkout.address, F.text)
async def address_typed(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    try:
        await checkout.set_address(uow, customer.id, message.text or "", config)
    except DomainError as error:
        await explain(message, t, error)
        return
    await ask(message, Checkout.phone, t, uow, customer, config, state)


@steps.message(Checkout.address, F.location)
async def address_located(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    """A location shared instead of a typed address: kept as coordinates with a map link for the courier."""
    where = message.location
    assert where is not None
    text = checkout.location_address(where.latitude, where.longitude)
    await checkout.set_address(uow, customer.id, text, config)
    await ask(message, Checkout.phone, t, uow, customer, config, state)


@steps.message(Checkout.phone, F.contact)
async def phone_shared(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    contact = message.contact
    assert contact is not None
    await _phone(message, t, customer, uow, config, state, contact.phone_number, contact.user_id or 0)


@steps.message(Checkout.phone, F.text)
async def phone_typed(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    text = message.text or ""
    if text == t.label("back"):  # the menu comes back in place of the phone's buttons, then the question
        await message.answer(t("checkout.went_back"), reply_markup=keyboards.main_menu(t))
        await ask(
            message,
            await _step_before(
                Checkout.phone.state, (await checkout.current_draft(uow, customer.id)).fulfilment
            ),
            t,
            uow,
            customer,
            config,
            state,
        )
        return
    if text == t.label("cancel"):
        await checkout.cancel_checkout(uow, customer.id)
        await state.clear()
        await message.answer(t("checkout.cancelled"), reply_markup=keyboards.main_menu(t))
        return
    await _phone(message, t, customer, uow, config, state, text, None)


async def _phone(
    message: Message,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    config: ShopConfig,
    state: FSMContext,
    phone: str,
    contact_user_id: int | None,
) -> None:
    try:
        await checkout.set_phone(
            uow, customer.id, phone, contact_user_id=contact_user_id, telegram_id=customer.telegram_id
        )
    except DomainError as error:
        await explain(message, t, error)
        return
    # The main menu back in place of the contact button: always on screen, as everywhere else.
    await message.answer(t("checkout.phone_saved", phone=phone), reply_markup=keyboards.main_menu(t))
    await ask(message, Checkout.notes, t, uow, customer, config, state)


@steps.message(Checkout.notes, F.text)
async def notes_typed(
    message: Message, t: Texts, customer: Customer, uow: UnitOfWork, config: ShopConfig, state: FSMContext
) -> None:
    try:
        await checkout.set_notes(uow, customer.id, message.text, config)
    except DomainError as error:
        await explain(message, t, error)
        return
    await ask(message, Checkout.payment, t, uow, customer, config, state)


@steps.message()  # anything else while checking out
async def unexpected_in_checkout(message: Message, t: Texts) -> None:
    await message.answer(t("checkout.use_buttons"))
