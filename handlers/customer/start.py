"""Greeting, help, /cancel, profile, language and the customer's own data."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from shop import checkout, customers, staff
from shop.config import LANGUAGES, ShopConfig
from storage.models import Customer
from storage.uow import UnitOfWork

from .. import keyboards
from ..answers import MenuButton, show
from ..callbacks import ProfileAction, ProfileCb
from ..render import Renderer, Texts
from .catalog import send_product

router = Router(name="start")
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private


@router.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    state: FSMContext,
    config: ShopConfig,
    media_dir: Path,
    role: str | None = None,
) -> None:
    await state.clear()
    desk = await staff.desk(uow) if role is not None and not command.args else None  # what waits for staff
    await uow.end_read()  # not held open while Telegram is written to
    await message.answer(t("start.welcome", name=customer.first_name), reply_markup=keyboards.main_menu(t))
    if desk is not None:
        await message.answer(t("start.staff_desk", role=role, desk=desk))
    args = command.args or ""
    if args.startswith("p_") and args[2:].isdigit():
        await send_product(message, uow, t, customer, int(args[2:]), config, media_dir)


@router.message(Command("help"))
@router.message(MenuButton("help"))
async def help_(message: Message, t: Texts) -> None:
    await message.answer(t("start.help"), reply_markup=keyboards.main_menu(t))


@router.message(Command("cancel"), StateFilter("*"))
async def cancel(message: Message, state: FSMContext, t: Texts, customer: Customer, uow: UnitOfWork) -> None:
    """Leave whatever conversation is going on; the cart stays, a checkout draft goes."""
    current = await state.get_state()
    had_draft = await checkout.cancel_checkout(uow, customer.id)
    await state.clear()
    text = t("start.cancelled") if current or had_draft else t("start.nothing_to_cancel")
    await message.answer(text, reply_markup=keyboards.main_menu(t))


@router.message(Command("profile"))
async def profile(message: Message, t: Texts, customer: Customer, uow: UnitOfWork, lang: str) -> None:
    text, markup = await _profile(t, uow, customer, lang, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.page))
async def profile_page(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    lang: str,
) -> None:
    page = int(callback_data.value) if callback_data.value.isdecimal() else 0
    text, markup = await _profile(t, uow, customer, lang, page)
    await callback.answer()
    await show(callback, text, markup)


async def _profile(
    t: Texts, uow: UnitOfWork, customer: Customer, lang: str, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Page ``page`` of the customer's profile (many saved addresses take more than one message)."""
    saved = await customers.addresses(uow, customer.id)
    view = t.page("profile.profile", page, customer=customer, addresses=saved, language=lang)
    return view.text, keyboards.profile(t, customer, view)


@router.message(Command("language"))
async def language(message: Message, t: Texts) -> None:
    await message.answer(t("profile.choose_language"), reply_markup=keyboards.languages(t, LANGUAGES))


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.language))
async def language_pressed(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    renderer: Renderer,
) -> None:
    if callback_data.value not in LANGUAGES:
        await show(callback, t("profile.choose_language"), keyboards.languages(t, LANGUAGES))
        await callback.answer()
        return
    await customers.set_language(uow, customer.id, callback_data.value)
    chosen = renderer.texts(callback_data.value)
    await callback.answer()
    await show(callback, chosen("profile.language_set"))
    if isinstance(callback.message, Message):
        await callback.message.answer(chosen("start.menu_below"), reply_markup=keyboards.main_menu(chosen))


@router.callback_query(ProfileCb.filter(F.action.in_({ProfileAction.marketing, ProfileAction.reminders})))
async def preference(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    lang: str,
) -> None:
    on = callback_data.value == "1"
    if callback_data.action == ProfileAction.marketing:
        customer = await customers.set_preference(uow, customer.id, "marketing_opt_in", on)
        await callback.answer(t("profile.marketing_set", on=on))
    else:
        customer = await customers.set_preference(uow, customer.id, "cart_reminders", on)
        await callback.answer(t("profile.reminders_set", on=on))
    if isinstance(callback.message, Message):
        await show(callback, *await _profile(t, uow, customer, lang, 0))


@router.message(Command("mydata"))
async def my_data(message: Message, t: Texts, customer: Customer, uow: UnitOfWork) -> None:
    data = await customers.export_data(uow, customer.id)
    document = BufferedInputFile(json.dumps(data, ensure_ascii=False, indent=2).encode(), "my-data.json")
    await message.answer_document(document, caption=t("profile.mydata"))


async def _forget_question(t: Texts, state: FSMContext) -> InlineKeyboardMarkup:
    """ "Delete your data?" with a token kept in the conversation's state (the same for every question
    asked until the conversation starts afresh): the Yes of a question from before that, or a forged
    press, asks again instead of deleting."""
    token = (await state.get_data()).get("forget") or secrets.token_urlsafe(6)
    await state.update_data(forget=token, forgotten=None)
    return keyboards.forget(t, token)


@router.message(Command("forgetme"))
async def forget_me(message: Message, t: Texts, state: FSMContext) -> None:
    await message.answer(t("profile.forget_confirm"), reply_markup=await _forget_question(t, state))


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.forget))
async def forget_pressed(callback: CallbackQuery, t: Texts, state: FSMContext) -> None:
    await callback.answer()
    await show(callback, t("profile.forget_confirm"), await _forget_question(t, state))


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.forget_confirm))
async def forget_confirmed(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    t: Texts,
    customer: Customer,
    uow: UnitOfWork,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if data.get("forgotten"):  # a second press of the Yes that deleted: it is done
        await callback.answer()
        await show(callback, t("profile.forgotten"))
        return
    asked = data.get("forget")
    if not asked or not secrets.compare_digest(str(asked), callback_data.value):
        await callback.answer()  # a question from before: ask it again
        await show(callback, t("profile.forget_confirm"), await _forget_question(t, state))
        return
    await customers.forget_customer(uow, customer.id)
    await state.set_data({"forgotten": True})
    await callback.answer()
    await show(callback, t("profile.forgotten"))


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.keep))
async def forget_declined(callback: CallbackQuery, t: Texts) -> None:
    await callback.answer()
    await show(callback, t("profile.kept"))
