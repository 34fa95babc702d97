"""Staff: /product adds or edits a product, one question at a time (Keep leaves a field as it is)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from shop import catalog
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.uow import UnitOfWork

from ..answers import another_request, explain
from ..keyboards import InlineKeyboardBuilder
from ..render import Texts
from .access import IsStaff
from .callbacks import ProductEditCb

router = Router(name="staff_products")
router.message.filter(IsStaff())
router.callback_query.filter(IsStaff())
FIELDS = ("name", "category", "price", "stock", "description", "photo")
REQUIRED_FOR_NEW = {"name", "price"}


class ProductEdit(StatesGroup):
    sku = State()
    field = State()  # which one is in the FSM data


def _keyboard(t: Texts, editing: bool, field: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if editing:
        kb.button(text=t.label("keep_field"), callback_data=ProductEditCb(action="keep"))
    elif field not in REQUIRED_FOR_NEW:
        kb.button(text=t.label("skip_field"), callback_data=ProductEditCb(action="keep"))
    kb.button(text=t.label("cancel"), callback_data=ProductEditCb(action="cancel"))
    return kb.as_markup()


async def _ask(target: Message, t: Texts, state: FSMContext, index: int) -> None:
    data = await state.get_data()
    field = FIELDS[index]
    await state.set_state(ProductEdit.field)
    await state.update_data(index=index)
    await target.answer(
        t("products.ask", field=field, sku=data["sku"], editing=data["editing"]),
        reply_markup=_keyboard(t, data["editing"], field),
    )


async def _next(target: Message, t: Texts, state: FSMContext, uow: UnitOfWork, index: int) -> None:
    if index + 1 < len(FIELDS):
        await _ask(target, t, state, index + 1)
        return
    data = await state.get_data()
    await state.clear()
    try:
        product, created = await catalog.save_product(uow, data["sku"], data.get("values", {}))
    except DomainError as error:
        await explain(target, t, error)
        return
    await target.answer(t("products.saved", product=product, created=created))


@router.message(Command("product"))
async def product_command(message: Message, t: Texts, state: FSMContext) -> None:
    await state.set_state(ProductEdit.sku)
    await message.answer(t("products.ask_sku"), reply_markup=_keyboard(t, False, "name"))


@router.message(ProductEdit.sku, F.text)
async def sku_typed(
    message: Message, t: Texts, uow: UnitOfWork, state: FSMContext, config: ShopConfig
) -> None:
    try:
        sku = str(catalog.check_field("sku", message.text or "", config.currency))
    except DomainError as error:
        await explain(message, t, error)
        return
    existing = await uow.catalog.by_sku(sku)
    await state.update_data(sku=sku, editing=existing is not None, values={})
    if existing is not None:
        await message.answer(t("products.editing", product=existing))
    await _ask(message, t, state, 0)


@router.message(ProductEdit.field, F.photo)
async def photo_sent(message: Message, t: Texts, uow: UnitOfWork, state: FSMContext) -> None:
    data = await state.get_data()
    if FIELDS[data["index"]] != "photo" or not message.photo:
        await message.answer(t("products.text_please"))
        return
    await state.update_data(values={**data.get("values", {}), "photo_file_id": message.photo[-1].file_id})
    await _next(message, t, state, uow, data["index"])


@router.message(ProductEdit.field, F.text)
async def field_typed(
    message: Message, t: Texts, uow: UnitOfWork, state: FSMContext, config: ShopConfig
) -> None:
    data = await state.get_data()
    field = FIELDS[data["index"]]
    if another_request(message, t):  # a command or a main-menu tap is not a value: the edit stops
        await state.clear()
        await message.answer(t("products.cancelled"))
        return
    if field == "photo":
        await message.answer(t("products.photo_please"))
        return
    try:
        value = catalog.check_field(field, message.text or "", config.currency)
    except DomainError as error:
        await explain(message, t, error)
        return
    await state.update_data(values={**data.get("values", {}), field: value})
    await _next(message, t, state, uow, data["index"])


@router.callback_query(ProductEditCb.filter())
async def product_button(
    callback: CallbackQuery, callback_data: ProductEditCb, t: Texts, uow: UnitOfWork, state: FSMContext
) -> None:
    data = await state.get_data()
    current = await state.get_state()
    await callback.answer()
    if callback.message is not None and isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
    if callback_data.action == "cancel" or current not in (ProductEdit.sku.state, ProductEdit.field.state):
        await state.clear()
        if isinstance(callback.message, Message):
            await callback.message.answer(t("products.cancelled"))
        return
    if current == ProductEdit.field.state and isinstance(callback.message, Message):
        field = FIELDS[data["index"]]
        if not data["editing"] and field in REQUIRED_FOR_NEW:
            await _ask(callback.message, t, state, data["index"])
            return
        await _next(callback.message, t, state, uow, data["index"])
