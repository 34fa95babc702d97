"""Browsing: categories, filtered pages edited in place, product cards, quantities, search, inline mode."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    FSInputFile,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)

from shop import cart as carts
from shop import catalog
from shop.catalog import ProductQuery
from shop.config import ShopConfig
from shop.errors import DomainError, InvalidQuantity, ProductUnavailable
from shop.limits import MAX_QUANTITY
from shop.photos import InvalidPhoto, is_link, photo_file
from storage.models import Customer, Product
from storage.uow import UnitOfWork

from .. import keyboards
from ..answers import MenuButton, another_request, explain, plain, show
from ..callbacks import CatalogCb, Menu, MenuCb, ProductAction, ProductCb, SearchCb
from ..limits import list_page
from ..render import Texts
from ..states import Browsing

router = Router(name="catalog")
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private
log = logging.getLogger("orderbot.catalog")


@router.message(Command("catalog"))
@router.message(MenuButton("catalog"))
async def catalog_command(message: Message, t: Texts, uow: UnitOfWork) -> None:
    text, markup = await _categories(t, uow, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.to == Menu.catalog))
async def catalog_pressed(callback: CallbackQuery, callback_data: MenuCb, t: Texts, uow: UnitOfWork) -> None:
    text, markup = await _categories(t, uow, callback_data.page)
    await callback.answer()
    await show(callback, text, markup)


async def _categories(t: Texts, uow: UnitOfWork, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    shelves = await catalog.categories(uow)
    stocked = list_page([item for item in shelves.items if item.products], page, keyboards.CATEGORIES_PAGE)
    markup = keyboards.categories(t, stocked, shelves.any_featured) if stocked.total else None
    return t("catalog.categories", has_any=bool(stocked.total), shelves=stocked), markup


@router.callback_query(CatalogCb.filter())
async def catalog_page(
    callback: CallbackQuery, callback_data: CatalogCb, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    at = callback_data
    category = await catalog.category(uow, at.category) if at.category else None
    if at.category and (category is None or not category.active):
        await callback.answer(t("start.stale_button"), show_alert=True)
        return
    category_id = category.id if category else None
    shelf = await catalog.shelf(uow, ProductQuery(category_id=category_id, featured=not category))
    brands = shelf.brands if category else []  # the featured shelf spans brands: no brand filter
    bands = catalog.price_bands(shelf.prices)
    brand = brands[at.brand - 1] if 0 < at.brand <= len(brands) else None
    band = bands[at.band - 1] if 0 < at.band <= len(bands) else None
    query = ProductQuery(
        category_id=category_id,
        featured=not category,
        brand=brand,
        in_stock=bool(at.stock),
        min_price_minor=band[0] if band else None,
        max_price_minor=band[1] - 1 if band else None,  # up to, not including, the next range's edge
    )
    page = await catalog.browse(uow, query, at.page, config.page_size)
    title = t.localized(category, "name") if category else t("catalog.featured_title")
    text = t("catalog.products", title=title, page=page, brand=brand, band=band, in_stock=bool(at.stock))
    await callback.answer()
    await show(
        callback, text, keyboards.products(t, page, at.model_copy(update={"page": page.page}), brands, bands)
    )


async def send_product(
    message: Message,
    uow: UnitOfWork,
    t: Texts,
    customer: Customer,
    product_id: int,
    config: ShopConfig,
    media_dir: Path,
) -> None:
    """A product card: the photo with its caption, or text when there is no photo."""
    try:
        product = await catalog.get_product(uow, product_id)
    except ProductUnavailable as error:
        await explain(message, t, error)
        return
    in_cart = await uow.carts.quantity(customer.id, product.id)
    await uow.end_read()
    caption = t("catalog.product", product=product, in_cart=in_cart)
    markup = keyboards.product(t, product, 1, in_cart)
    photo = _photo_source(product, media_dir)
    if photo is None:
        await message.answer(caption, reply_markup=markup)
        return
    sent = await message.answer_photo(photo, caption=caption, reply_markup=markup)
    if not product.photo_file_id and sent.photo:
        await catalog.remember_photo(uow, product.id, sent.photo[-1].file_id)


def _photo_source(product: Product, media_dir: Path) -> str | FSInputFile | None:
    """Telegram's copy of the photo, its link, or its file; None when the product has none, or names a
    file the catalog's rules do not allow (checked at every send, so a row from before those rules, or a
    file changed since, never reaches a customer; Telegram's copy of such a file is not sent either)."""
    if product.photo and not is_link(product.photo):
        try:
            path = photo_file(product.photo, media_dir)
        except InvalidPhoto as error:
            log.warning("product photo %r not sent: %s", product.photo, error.params["reason"])
            return None
        return product.photo_file_id or FSInputFile(path)
    return product.photo_file_id or product.photo


async def _product_or_explain(
    callback: CallbackQuery, t: Texts, uow: UnitOfWork, product_id: int
) -> Product | None:
    """The product a button names, or None after telling the customer it is gone."""
    try:
        return await catalog.get_product(uow, product_id)
    except ProductUnavailable as error:
        await explain(callback, t, error)
        return None


@router.callback_query(ProductCb.filter(F.action == ProductAction.open))
async def product_open(
    callback: CallbackQuery,
    callback_data: ProductCb,
    t: Texts,
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    media_dir: Path,
) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await send_product(callback.message, uow, t, customer, callback_data.id, config, media_dir)


@router.callback_query(ProductCb.filter(F.action == ProductAction.qty))
async def product_quantity(
    callback: CallbackQuery, callback_data: ProductCb, t: Texts, uow: UnitOfWork, customer: Customer
) -> None:
    product = await _product_or_explain(callback, t, uow, callback_data.id)
    if product is None:
        return
    qty = max(1, min(callback_data.qty, max(product.stock, 1)))
    await callback.answer()
    if isinstance(callback.message, Message):
        markup = keyboards.product(t, product, qty, await uow.carts.quantity(customer.id, product.id))
        if markup != callback.message.reply_markup:
            await callback.message.edit_reply_markup(reply_markup=markup)


@router.callback_query(ProductCb.filter(F.action == ProductAction.add))
async def product_add(
    callback: CallbackQuery,
    callback_data: ProductCb,
    t: Texts,
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
) -> None:
    await _add(callback, t, uow, customer, config, callback_data.id, callback_data.qty)


async def _add(
    event: Message | CallbackQuery,
    t: Texts,
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    product_id: int,
    quantity: int,
) -> bool:
    try:
        view = await carts.add_to_cart(uow, customer.id, product_id, quantity, config)
        product = await catalog.get_product(uow, product_id)
    except DomainError as error:
        await explain(event, t, error)
        return False
    text = t("catalog.added", product=product, qty=quantity, count=view.count, total=view.total_minor)
    if isinstance(event, CallbackQuery):
        await event.answer(plain(text))
    else:
        await event.answer(text)
    return True


@router.callback_query(ProductCb.filter(F.action == ProductAction.type_qty))
async def product_type_quantity(
    callback: CallbackQuery, callback_data: ProductCb, t: Texts, uow: UnitOfWork, state: FSMContext
) -> None:
    product = await _product_or_explain(callback, t, uow, callback_data.id)
    if product is None:
        return
    await state.set_state(Browsing.quantity)
    await state.update_data(product_id=product.id)
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(t("catalog.ask_quantity", product=product))


@router.message(Browsing.quantity, F.text)
async def quantity_typed(
    message: Message, t: Texts, uow: UnitOfWork, customer: Customer, config: ShopConfig, state: FSMContext
) -> None:
    if another_request(message, t):  # a command or a menu tap ends the question and is done as asked
        await state.clear()
        raise SkipHandler
    text = (message.text or "").strip()
    product_id = (await state.get_data()).get("product_id", 0)
    if not text.isdecimal() or not text.isascii():
        await explain(message, t, InvalidQuantity(max=MAX_QUANTITY))
        return
    if await _add(message, t, uow, customer, config, product_id, int(text)):
        await state.clear()


@router.callback_query(ProductCb.filter(F.action == ProductAction.close))
async def product_close(callback: CallbackQuery) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.delete()


# --- search ---------------------------------------------------------------------------------------------
@router.message(Command("search"))
async def search_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, state: FSMContext, config: ShopConfig
) -> None:
    query = (command.args or "").strip()
    if not query:
        await state.set_state(Browsing.search)  # the next text is what to look for
        await message.answer(t("catalog.search_prompt"))
        return
    await _search(message, query, t, uow, state, config)


@router.callback_query(MenuCb.filter(F.to == Menu.search))
async def search_pressed(callback: CallbackQuery, t: Texts, state: FSMContext) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await state.set_state(Browsing.search)
        await callback.message.answer(t("catalog.search_prompt"))


@router.message(Browsing.search, F.text)
async def search_typed(
    message: Message, t: Texts, uow: UnitOfWork, state: FSMContext, config: ShopConfig
) -> None:
    if another_request(message, t):  # a command or a menu tap ends the question and is done as asked
        await state.clear()
        raise SkipHandler
    await _search(message, message.text or "", t, uow, state, config)


async def _search(
    message: Message, query: str, t: Texts, uow: UnitOfWork, state: FSMContext, config: ShopConfig
) -> None:
    query = " ".join(query.split())[:100]
    await state.update_data(search=query)
    page = await catalog.browse(uow, ProductQuery(text=query), 0, config.page_size)
    await state.set_state(None if page.total else Browsing.search)  # nothing found: the next word is tried
    await message.answer(
        t("catalog.search_results", query=query, page=page), reply_markup=keyboards.search_results(t, page)
    )


@router.callback_query(SearchCb.filter())
async def search_page(
    callback: CallbackQuery,
    callback_data: SearchCb,
    t: Texts,
    uow: UnitOfWork,
    state: FSMContext,
    config: ShopConfig,
) -> None:
    query = (await state.get_data()).get("search")
    if not query:
        await callback.answer(t("start.stale_button"), show_alert=True)
        return
    page = await catalog.browse(uow, ProductQuery(text=query), callback_data.page, config.page_size)
    await callback.answer()
    await show(
        callback, t("catalog.search_results", query=query, page=page), keyboards.search_results(t, page)
    )


@router.inline_query()
async def inline_search(inline_query: InlineQuery, t: Texts, uow: UnitOfWork, bot: Bot) -> None:
    """``@bot tea`` lists products to share; each card opens the product in the bot."""
    offset = int(inline_query.offset) if inline_query.offset.isdigit() else 0
    page = await catalog.browse(uow, ProductQuery(text=inline_query.query[:100]), offset, 20)
    me = await bot.me()
    results: list[Any] = [
        InlineQueryResultArticle(
            id=f"p{product.id}",
            title=t.localized(product, "name"),
            description=t("catalog.inline_description", product=product),
            input_message_content=InputTextMessageContent(
                message_text=t("catalog.inline_card", product=product)
            ),
            reply_markup=keyboards.open_in_bot(t, me.username or "", product.id),
        )
        for product in (page.products if page.page == offset else [])
    ]
    next_offset = str(offset + 1) if offset + 1 < page.pages else ""
    # personal: the results are in the asker's language (names, prices), so Telegram must not share them
    await inline_query.answer(results, cache_time=30, is_personal=True, next_offset=next_offset)
