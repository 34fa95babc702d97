"""Staff: customers (lookup, profile, notes, type) and the catalog (stock, price, visibility, CSV)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message, User

from shop import catalog, crm
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.uow import UnitOfWork

from ..answers import explain, show, whole_number
from ..keyboards import InlineKeyboardBuilder
from ..render import Texts
from . import keyboards
from .access import IsStaff
from .callbacks import CustomerCb, CustomerTypeCb, NoteTypeCb

router = Router(name="staff_catalog")
router.message.filter(IsStaff())
router.callback_query.filter(IsStaff())
MAX_CSV_BYTES = 2 * 1024 * 1024
log = logging.getLogger("orderbot.handlers")


class Importing(StatesGroup):
    waiting_for_file = State()


# --- customers ------------------------------------------------------------------------------------------
async def _profile(
    t: Texts, uow: UnitOfWork, customer_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Page ``page`` of a customer's profile, with the buttons that set their type."""
    view = t.page("crm.profile", page, p=await crm.profile(uow, customer_id))
    return view.text, keyboards.customer(t, customer_id, view)


def _note_keyboard(t: Texts, note_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind in crm.NOTE_TYPES:
        kb.button(text=t.label("note_type", kind=kind), callback_data=NoteTypeCb(note=note_id, kind=kind))
    kb.adjust(4)
    return kb.as_markup()


@router.message(Command("customers"))
async def customers_command(message: Message, command: CommandObject, t: Texts, uow: UnitOfWork) -> None:
    query = (command.args or "").strip()
    if not query:
        await message.answer(t("staff.usage", command="customers"))
        return
    await message.answer(t("crm.found", query=query, found=await crm.search(uow, query)))


@router.message(Command("customer"))
async def customer_command(message: Message, command: CommandObject, t: Texts, uow: UnitOfWork) -> None:
    if not (command.args or "").strip():
        await message.answer(t("staff.usage", command="customer"))
        return
    try:
        customer = await crm.find(uow, command.args or "")
        text, markup = await _profile(t, uow, customer.id, 0)
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(CustomerCb.filter())
async def customer_page(
    callback: CallbackQuery, callback_data: CustomerCb, t: Texts, uow: UnitOfWork
) -> None:
    try:
        text, markup = await _profile(t, uow, callback_data.customer, callback_data.page)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    await show(callback, text, markup)


@router.message(Command("note"))
async def note_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, event_from_user: User
) -> None:
    parts = (command.args or "").split(maxsplit=1)
    customer_id = whole_number(parts[0]) if parts else None
    if customer_id is None or len(parts) < 2:
        await message.answer(t("staff.usage", command="note"))
        return
    try:
        note = await crm.add_note(uow, customer_id, parts[1], event_from_user.id)
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("crm.note_added", note=note), reply_markup=_note_keyboard(t, note.id))


@router.callback_query(CustomerTypeCb.filter())
async def customer_type_button(
    callback: CallbackQuery, callback_data: CustomerTypeCb, t: Texts, uow: UnitOfWork
) -> None:
    try:
        customer = await crm.set_type(uow, callback_data.customer, callback_data.kind)
        text, markup = await _profile(t, uow, customer.id, 0)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer(t.label("customer_type", kind=customer.customer_type))
    await show(callback, text, markup)


@router.callback_query(NoteTypeCb.filter())
async def note_type_button(
    callback: CallbackQuery, callback_data: NoteTypeCb, t: Texts, uow: UnitOfWork
) -> None:
    try:
        note = await crm.set_note_type(uow, callback_data.note, callback_data.kind)
    except DomainError as error:
        await explain(callback, t, error)
        return
    await callback.answer()
    await show(callback, t("crm.note_added", note=note), _note_keyboard(t, note.id))


# --- catalog --------------------------------------------------------------------------------------------
@router.message(Command("stock", "price", "hide", "show"))
async def product_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    parts = (command.args or "").split()
    wanted = 2 if command.command in ("stock", "price") else 1
    if len(parts) != wanted:
        await message.answer(t("staff.usage", command=command.command))
        return
    try:
        if command.command == "stock":
            product = await catalog.set_stock(uow, parts[0], parts[1])
        elif command.command == "price":
            product = await catalog.set_price(uow, parts[0], parts[1], config.currency)
        else:
            product = await catalog.set_active(uow, parts[0], command.command == "show")
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("crm.product_changed", product=product))


@router.message(Command("export"))
async def export_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    what = (command.args or "").strip().lower()
    if what == "products":
        text = await catalog.export_products_csv(uow, config.currency)
    elif what == "customers":
        text = await crm.export_customers_csv(uow, config.currency)
    elif what == "orders":
        text = await crm.export_orders_csv(uow)
    else:
        await message.answer(t("staff.usage", command="export"))
        return
    await uow.end_read()
    await message.answer_document(
        BufferedInputFile(text.encode("utf-8"), f"{what}.csv"),
        caption=t("crm.exported", what=what, rows=max(text.count("\n") - 1, 0)),
    )


@router.message(Command("import"), ~F.document)  # with a file attached it is the file handler's
async def import_command(message: Message, t: Texts, state: FSMContext) -> None:
    await state.set_state(Importing.waiting_for_file)
    await message.answer(t("crm.send_csv", columns=catalog.CSV_COLUMNS))


@router.message(Importing.waiting_for_file, F.document)
@router.message(F.document, F.caption.startswith("/import"))
async def import_file(
    message: Message,
    t: Texts,
    uow: UnitOfWork,
    config: ShopConfig,
    bot: Bot,
    state: FSMContext,
    media_dir: Path,
) -> None:
    document = message.document
    assert document is not None
    await state.clear()
    if (document.file_size or 0) > MAX_CSV_BYTES or not (document.file_name or "").lower().endswith(".csv"):
        await message.answer(t("crm.not_a_csv"))
        return
    await uow.end_read()
    data = await bot.download(document)
    try:
        text = data.read().decode("utf-8-sig") if data else ""
    except UnicodeDecodeError:
        await message.answer(t("crm.not_a_csv"))
        return
    try:
        progress = ImportProgress(message, t)
        result = await catalog.import_products_csv(uow, text, config.currency, media_dir, progress)
    except DomainError as error:
        await explain(message, t, error)
        return
    await message.answer(t("crm.imported", result=result))


class ImportProgress:
    """A large import's progress: one message, edited as chunks are written (at most every few seconds,
    as Telegram likes edits spaced); an import of one chunk says nothing until its result."""

    EVERY_SECONDS = 2.0

    def __init__(self, message: Message, t: Texts) -> None:
        self.message, self.t = message, t
        self.shown: Message | None = None
        self.shown_at = 0.0

    async def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.shown is None and done == total:
            return
        if self.shown is not None and done < total and now - self.shown_at < self.EVERY_SECONDS:
            return
        self.shown_at = now
        text = self.t("crm.import_progress", done=done, total=total)
        try:
            if self.shown is None:
                self.shown = await self.message.answer(text)
            else:
                await self.shown.edit_text(text)
        except TelegramAPIError as error:  # the import goes on: its result is what matters
            log.info("import progress not shown: %s", error)


@router.message(Importing.waiting_for_file)
async def import_expected_file(message: Message, t: Texts, state: FSMContext) -> None:
    if (message.text or "").startswith("/"):
        await state.clear()
        await message.answer(t("start.cancelled"))
        return
    await message.answer(t("crm.send_csv", columns=catalog.CSV_COLUMNS))
