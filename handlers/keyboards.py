"""Keyboards: pure functions of data (and the customer's texts) to markup. No database, no Telegram calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder as _Builder

from shop.cart import CartLine, CartView
from shop.catalog import CategoryCount, Page
from storage.models import Address, Customer, Order, Product

from .answers import MENU_KEYS
from .callbacks import (
    CartAction,
    CartCb,
    CatalogCb,
    CheckoutAction,
    CheckoutCb,
    Menu,
    MenuCb,
    OrderAction,
    OrderCb,
    ProductAction,
    ProductCb,
    ProfileAction,
    ProfileCb,
    SearchCb,
)
from .limits import ListPage, TextPage
from .render import Texts

CART_PAGE = 8  # cart lines a page shows, three buttons each
CATEGORIES_PAGE = 20  # categories a page of the catalog shows
BRAND_BUTTONS = 14  # brands the filter offers (with "Any brand", five rows of three)


class InlineKeyboardBuilder(_Builder):
    """aiogram's builder without the deep copy of every button on export: ours are built for one
    message and never reused (the copy was a tenth of a catalog update's CPU)."""

    def export(self) -> list[list[InlineKeyboardButton]]:
        return [list(row) for row in self._markup]


def main_menu(t: Texts) -> ReplyKeyboardMarkup:
    labels = [t.label(key) for key in MENU_KEYS]
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=labels[0]), KeyboardButton(text=labels[1])],
            [KeyboardButton(text=labels[2]), KeyboardButton(text=labels[3])],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def categories(t: Texts, shelves: ListPage[CategoryCount], has_featured: bool) -> InlineKeyboardMarkup:
    """A page of the categories that have products (``shelves``), Featured above the first."""
    kb = InlineKeyboardBuilder()
    if has_featured and shelves.page == 0:
        kb.row(InlineKeyboardButton(text=t.label("featured"), callback_data=CatalogCb(category=0).pack()))
    for item in shelves.items:
        kb.row(
            InlineKeyboardButton(
                text=t.label("category", name=t.localized(item, "name"), count=item.products),
                callback_data=CatalogCb(category=item.id).pack(),
            )
        )
    pager(kb, t, shelves.page, shelves.pages, lambda n: MenuCb(to=Menu.catalog, page=n).pack())
    kb.row(InlineKeyboardButton(text=t.label("search"), callback_data=MenuCb(to=Menu.search).pack()))
    kb.row(InlineKeyboardButton(text=t.label("cart"), callback_data=CartCb(action=CartAction.show).pack()))
    return kb.as_markup()


def products(
    t: Texts, page: Page, at: CatalogCb, brands: Sequence[str], bands: Sequence[tuple[int, int]]
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for item in page.products:
        kb.row(_product_button(t, item))
    pager(kb, t, page.page, page.pages, lambda n: at.model_copy(update={"page": n}).pack())
    if at.filters:
        # A chosen filter's button turns it off again, so every press changes the page.
        brand_buttons = [
            _toggle(t.label("brand", name=b, on=at.brand == i), at, "brand", i)
            for i, b in enumerate(["", *brands[:BRAND_BUTTONS]])
        ]
        band_buttons = [
            _toggle(t.label("band", low=low, high=high, on=at.band == i), at, "band", i)
            for i, (low, high) in enumerate([(0, 0), *bands])
        ]
        for buttons in (brand_buttons, band_buttons):
            for first in range(0, len(buttons), 3):
                kb.row(*buttons[first : first + 3])
        kb.row(_toggle(t.label("in_stock_only", on=bool(at.stock)), at, "stock", 1))
    kb.row(
        _toggle(t.label("filters", on=bool(at.filters)), at, "filters", 1),
        InlineKeyboardButton(text=t.label("categories"), callback_data=MenuCb(to=Menu.catalog).pack()),
    )
    return kb.as_markup()


def _toggle(text: str, at: CatalogCb, field: str, value: int) -> InlineKeyboardButton:
    """A filter button: sets ``field`` to ``value``, or back to 0 when it is already set (page 1 again)."""
    current = getattr(at, field)
    changes = {field: 0 if current == value else value}
    if field != "filters":
        changes["page"] = 0
    return InlineKeyboardButton(text=text, callback_data=at.model_copy(update=changes).pack())


def _product_button(t: Texts, item: Product) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=t.label(
            "product", name=t.localized(item, "name"), price_minor=item.price_minor, sold_out=item.stock <= 0
        ),
        callback_data=ProductCb(action=ProductAction.open, id=item.id).pack(),
    )


def search_results(t: Texts, page: Page) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for item in page.products:
        kb.row(_product_button(t, item))
    pager(kb, t, page.page, page.pages, lambda n: SearchCb(page=n).pack())
    return kb.as_markup()


def pager(kb: InlineKeyboardBuilder, t: Texts, page: int, pages: int, data: Callable[[int], str]) -> None:
    """A row with ‹ Previous and Next › (whichever there is), ``data(n)`` the press that shows page n."""
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(text=t.label("prev"), callback_data=data(page - 1)))
    if page + 1 < pages:
        buttons.append(InlineKeyboardButton(text=t.label("next"), callback_data=data(page + 1)))
    if buttons:
        kb.row(*buttons)


def product(t: Texts, item: Product, qty: int, in_cart: int = 0) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if item.stock > 0:
        kb.button(
            text=t.label("minus"),
            callback_data=ProductCb(action=ProductAction.qty, id=item.id, qty=max(1, qty - 1)),
        )
        kb.button(text=str(qty), callback_data=ProductCb(action=ProductAction.type_qty, id=item.id))
        kb.button(
            text=t.label("plus"),
            callback_data=ProductCb(
                action=ProductAction.qty, id=item.id, qty=min(qty + 1, max(item.stock, 1))
            ),
        )
        kb.button(
            text=t.label("add", qty=qty),
            callback_data=ProductCb(action=ProductAction.add, id=item.id, qty=qty),
        )
    kb.button(text=t.label("cart_count", count=in_cart), callback_data=CartCb(action=CartAction.show))
    kb.button(text=t.label("close"), callback_data=ProductCb(action=ProductAction.close, id=item.id))
    kb.adjust(3, 1, 2) if item.stock > 0 else kb.adjust(2)
    return kb.as_markup()


def cart(t: Texts, view: CartView, lines: ListPage[CartLine]) -> InlineKeyboardMarkup:
    """The buttons of the lines on this page of the cart (``lines``), each press showing that page again."""
    kb = InlineKeyboardBuilder()
    page = lines.page
    for line in lines.items:
        kb.row(
            InlineKeyboardButton(
                text=t.label("minus"),
                callback_data=CartCb(action=CartAction.dec, id=line.product_id, page=page).pack(),
            ),
            InlineKeyboardButton(
                text=t.label("cart_line", name=t.localized(line, "name"), quantity=line.quantity),
                callback_data=CartCb(action=CartAction.remove, id=line.product_id, page=page).pack(),
            ),
            InlineKeyboardButton(
                text=t.label("plus"),
                callback_data=CartCb(action=CartAction.inc, id=line.product_id, page=page).pack(),
            ),
        )
    pager(kb, t, page, lines.pages, lambda n: CartCb(action=CartAction.show, page=n).pack())
    if view.lines:
        kb.row(
            InlineKeyboardButton(text=t.label("clear"), callback_data=CartCb(action=CartAction.clear).pack()),
            InlineKeyboardButton(
                text=t.label("checkout"), callback_data=CartCb(action=CartAction.checkout).pack()
            ),
        )
    else:
        kb.row(InlineKeyboardButton(text=t.label("catalog"), callback_data=MenuCb(to=Menu.catalog).pack()))
    return kb.as_markup()


def _nav(kb: InlineKeyboardBuilder, t: Texts, back: bool = True) -> None:
    buttons = (
        [
            InlineKeyboardButton(
                text=t.label("back"), callback_data=CheckoutCb(action=CheckoutAction.back).pack()
            )
        ]
        if back
        else []
    )
    buttons.append(
        InlineKeyboardButton(
            text=t.label("cancel"), callback_data=CheckoutCb(action=CheckoutAction.cancel).pack()
        )
    )
    kb.row(*buttons)


def fulfilment(t: Texts) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t.label("pickup"), callback_data=CheckoutCb(action=CheckoutAction.fulfilment, value="pickup")
    )
    kb.button(
        text=t.label("delivery"), callback_data=CheckoutCb(action=CheckoutAction.fulfilment, value="delivery")
    )
    kb.adjust(2)
    _nav(kb, t, back=False)
    return kb.as_markup()


def addresses(t: Texts, saved: Sequence[Address]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for address in saved[:5]:
        kb.row(
            InlineKeyboardButton(
                text=t.label("address", text=address.text),
                callback_data=CheckoutCb(action=CheckoutAction.saved_address, id=address.id).pack(),
            )
        )
    _nav(kb, t)
    return kb.as_markup()


def share_phone(t: Texts) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=t.label("share_phone"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def back_cancel(t: Texts) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    _nav(kb, t)
    return kb.as_markup()


def notes(t: Texts) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.label("skip"), callback_data=CheckoutCb(action=CheckoutAction.skip_notes))
    _nav(kb, t)
    return kb.as_markup()


def payment(t: Texts, methods: Sequence[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for method in methods:
        kb.button(
            text=t.label("method", method=method),
            callback_data=CheckoutCb(action=CheckoutAction.payment, value=method),
        )
    kb.adjust(2)
    _nav(kb, t)
    return kb.as_markup()


def summary(
    t: Texts,
    token: str,
    total_minor: int,
    view: TextPage,
    points_available: int = 0,
    using_points: bool = False,
) -> InlineKeyboardMarkup:
    """Place order (and points) under the summary. A summary too long for one message (``view``: the
    page shown) has them on its last page, under the total: nobody places an order whose total they
    have not seen. "Place order" carries that total, the only one it places at."""
    kb = InlineKeyboardBuilder()
    pager(kb, t, view.page, view.pages, lambda n: CheckoutCb(action=CheckoutAction.page, id=n).pack())
    if view.page + 1 < view.pages:
        _nav(kb, t)
        return kb.as_markup()
    if points_available:
        label = t.label("skip_points") if using_points else t.label("use_points", points=points_available)
        kb.row(
            InlineKeyboardButton(
                text=label,
                callback_data=CheckoutCb(
                    action=CheckoutAction.points, value="" if using_points else "1"
                ).pack(),
            )
        )
    kb.row(
        InlineKeyboardButton(
            text=t.label("place_order"),
            callback_data=CheckoutCb(action=CheckoutAction.place, value=token, id=total_minor).pack(),
        )
    )
    _nav(kb, t)
    return kb.as_markup()


def orders(t: Texts, items: Sequence[Order], page: int, pages: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for order in items:
        kb.row(
            InlineKeyboardButton(
                text=t.label(
                    "order",
                    number=order.number,
                    total_minor=order.total_minor,
                    status=order.status,
                    method=order.payment_method,
                ),
                callback_data=OrderCb(action=OrderAction.open, id=order.id, page=page).pack(),
            )
        )
    pager(kb, t, page, pages, lambda n: OrderCb(action=OrderAction.list, page=n).pack())
    return kb.as_markup()


def order(t: Texts, item: Order, can_cancel: bool, page: int, view: TextPage) -> InlineKeyboardMarkup:
    """An order's buttons; ``page``: the page of the order list to go back to, ``view``: the order's own."""
    kb = InlineKeyboardBuilder()
    if can_cancel:
        kb.button(
            text=t.label("cancel_order"),
            callback_data=OrderCb(action=OrderAction.cancel, id=item.id, page=page),
        )
    kb.button(
        text=t.label("reorder"), callback_data=OrderCb(action=OrderAction.reorder, id=item.id, page=page)
    )
    kb.button(text=t.label("all_orders"), callback_data=OrderCb(action=OrderAction.list, page=page))
    kb.adjust(2 if can_cancel else 1, 1)
    pager(
        kb,
        t,
        view.page,
        view.pages,
        lambda n: OrderCb(action=OrderAction.open, id=item.id, page=page, part=n).pack(),
    )
    return kb.as_markup()


def confirm_cancel(t: Texts, item: Order, page: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t.label("confirm_cancel"),
        callback_data=OrderCb(action=OrderAction.confirm_cancel, id=item.id, page=page),
    )
    kb.button(
        text=t.label("keep_order"), callback_data=OrderCb(action=OrderAction.open, id=item.id, page=page)
    )
    return kb.as_markup()


def profile(t: Texts, customer: Customer, view: TextPage) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.label("language"), callback_data=ProfileCb(action=ProfileAction.language))
    for action, on in (
        (ProfileAction.marketing, customer.marketing_opt_in),
        (ProfileAction.reminders, customer.cart_reminders),
    ):
        kb.button(
            text=t.label(action.name, on=on), callback_data=ProfileCb(action=action, value="0" if on else "1")
        )
    kb.button(text=t.label("forget"), callback_data=ProfileCb(action=ProfileAction.forget))
    kb.adjust(1)
    pager(kb, t, view.page, view.pages, lambda n: ProfileCb(action=ProfileAction.page, value=str(n)).pack())
    return kb.as_markup()


def languages(t: Texts, codes: Sequence[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in codes:
        kb.button(
            text=t.label("language_name", code=code),
            callback_data=ProfileCb(action=ProfileAction.language, value=code),
        )
    kb.adjust(2)
    return kb.as_markup()


def forget(t: Texts, token: str) -> InlineKeyboardMarkup:
    """Delete (only with this question's one-time ``token``) or keep."""
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t.label("forget_confirm"),
        callback_data=ProfileCb(action=ProfileAction.forget_confirm, value=token),
    )
    kb.button(text=t.label("keep"), callback_data=ProfileCb(action=ProfileAction.keep))
    kb.adjust(1)
    return kb.as_markup()


def open_in_bot(t: Texts, bot_username: str, product_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.label("open_in_bot"), url=f"https://t.me/{bot_username}?start=p_{product_id}"
                )
            ]
        ]
    )
