"""Queries, grouped by what they are about. Repositories flush when they must; they never commit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    column,
    delete,
    exists,
    func,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, raiseload, selectinload
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import BindParameter, ColumnElement, TextClause
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from .loop_session import DEEP
from .models import (
    ON_ITS_WAY,
    PENDING,
    Address,
    Broadcast,
    Cart,
    CartItem,
    Category,
    CheckoutDraft,
    Customer,
    CustomerNote,
    InboxUpdate,
    JobTick,
    LoyaltyAccount,
    LoyaltyEntry,
    Order,
    OrderEvent,
    OrderItem,
    OutboxMessage,
    Payment,
    ProcessedUpdate,
    Product,
    Staff,
    Translations,
    utcnow,
)

# SQLite only: active products' search text (migrations 0005, 0007)
FTS = table("products_fts", column("rowid"), column("products_fts"))


def fts_match(match: str | BindParameter[str]) -> ColumnElement[bool]:
    return FTS.c.products_fts.op("MATCH")(match)


def contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % and _ taken literally (escape character \\)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


M = TypeVar("M")


def tables(*models: Any) -> list[Table]:
    """The models' tables, for statements that write without the ORM (see ``Repository``)."""
    return [model.__table__ for model in models]


_PRODUCTS, _CUSTOMERS, _DRAFTS, _CARTS, _CART_ITEMS = tables(Product, Customer, CheckoutDraft, Cart, CartItem)


@functools.cache
def _by_id(model: type[Any]) -> Select[Any]:
    return select(model).where(model.id == bindparam("id"))


class Repository:
    """Statements that run for most updates are built once, with bind parameters (the ``_``-prefixed
    constants): building a statement and computing its cache key cost as much as running it.

    For the same reason an UPDATE or DELETE is written against the table (``Model.__table__`` and its
    columns), not the mapped class: the ORM builds such a statement anew at every execution to keep the
    session's objects in step, and an UPDATE of one row cost 400 µs against 190 (``bench uow``'s way,
    one writer's unit). No caller reads an object it updated that way in the same unit of work. Likewise
    ``_get`` (below) instead of ``session.get``, which builds its SELECT at every call (210 µs against 165).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _get(self, model: type[M], ident: int) -> M | None:
        """The row of ``model`` with id ``ident`` (the session's own object when it holds it already)."""
        if identity_key(model, ident) in self.session.identity_map:
            return await self.session.get(model, ident)  # held: no statement built, none run
        return await self.session.scalar(_by_id(model), {"id": ident})  # type: ignore[no-any-return,arg-type]

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"


class InsertIgnoring:
    """An INSERT into ``table`` that does nothing where the row is there already (ON CONFLICT DO NOTHING,
    which PostgreSQL and SQLite both have), built once for each dialect; values given at execution."""

    def __init__(self, table: Any, *returning: ColumnElement[Any]) -> None:
        self._by_dialect = {}
        for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert)):
            statement = insert(table).on_conflict_do_nothing()
            self._by_dialect[dialect] = statement.returning(*returning) if returning else statement

    def on(self, dialect: str) -> Any:
        return self._by_dialect.get(dialect, self._by_dialect["sqlite"])


_PROCESSED_UPDATES: Table = ProcessedUpdate.__table__  # type: ignore[assignment]
# On the table, not the entity: one multi-row INSERT (SQLAlchemy's "insertmanyvalues")
_RECORD_UPDATES = InsertIgnoring(
    _PROCESSED_UPDATES, _PROCESSED_UPDATES.c.bot_id, _PROCESSED_UPDATES.c.update_id
)


_HANDLED = select(_PROCESSED_UPDATES.c.update_id).where(
    _PROCESSED_UPDATES.c.bot_id == bindparam("bot_id"),
    _PROCESSED_UPDATES.c.update_id == bindparam("update_id"),
)


_INBOX: Table = InboxUpdate.__table__  # type: ignore[assignment]
_KEEP_IN_INBOX = InsertIgnoring(_INBOX, _INBOX.c.update_id)
_INBOX_LEFT = (
    select(_INBOX.c.payload).where(_INBOX.c.bot_id == bindparam("bot_id")).order_by(_INBOX.c.update_id)
)
_OUT_OF_INBOX = delete(_INBOX).where(
    _INBOX.c.bot_id == bindparam("bot_id"), _INBOX.c.update_id < bindparam("below")
)


class UpdateRepository(Repository):
    async def handled(self, bot_id: int, update_id: int) -> bool:
        """Whether the update's effects were committed (it was recorded with them)."""
        found = await self.session.scalar(_HANDLED, {"bot_id": bot_id, "update_id": update_id})
        return found is not None

    async def mark_new(self, updates: list[tuple[int, int]]) -> set[tuple[int, int]]:
        """Record many (bot id, update id) at once, in one statement; those that were not there before."""
        statement = _RECORD_UPDATES.on(self.dialect)
        now = utcnow()
        rows = [
            {"bot_id": bot_id, "update_id": update_id, "processed_at": now} for bot_id, update_id in updates
        ]
        return {(bot_id, update_id) for bot_id, update_id in await self.session.execute(statement, rows)}

    async def forget_before(self, moment: datetime) -> int:
        """Forget the updates handled before ``moment``, and any left in the inbox since then."""
        await self.session.execute(delete(_INBOX).where(_INBOX.c.received_at < moment))
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def keep(self, bot_id: int, updates: list[tuple[int, str]]) -> set[int]:
        """Put (update id, JSON) into the inbox, in one statement; the ids that were not there before."""
        now = utcnow()
        rows = [
            {"bot_id": bot_id, "update_id": update_id, "payload": payload, "received_at": now}
            for update_id, payload in updates
        ]
        return set((await self.session.execute(_KEEP_IN_INBOX.on(self.dialect), rows)).scalars())

    async def left_in_inbox(self, bot_id: int) -> list[str]:
        """The updates in the inbox (JSON), oldest first."""
        return list((await self.session.execute(_INBOX_LEFT, {"bot_id": bot_id})).scalars())

    async def out_of_inbox(self, bot_id: int, below: int, keeping: list[int]) -> None:
        """Delete the inbox's updates whose ids are below ``below``, but those in ``keeping``."""
        if keeping:
            statement = _OUT_OF_INBOX.where(_INBOX.c.update_id.not_in(keeping))
            await self.session.execute(statement, {"bot_id": bot_id, "below": below})
            return
        await self.session.execute(_OUT_OF_INBOX, {"bot_id": bot_id, "below": below})


_CUSTOMER = select(Customer).where(Customer.telegram_id == bindparam("telegram_id"))
_WITH_ROLE = select(Customer, Staff.role).outerjoin(Staff, Staff.telegram_id == Customer.telegram_id)
_CUSTOMER_AND_ROLE = _WITH_ROLE.where(Customer.telegram_id == bindparam("telegram_id"))
_CUSTOMERS_AND_ROLES = _WITH_ROLE.where(Customer.telegram_id.in_(bindparam("telegram_ids", expanding=True)))
_SET_PHONE = (  # the row is left alone when the phone is the one kept already
    update(_CUSTOMERS)
    .where(
        _CUSTOMERS.c.id == bindparam("customer_id"), _CUSTOMERS.c.phone.is_distinct_from(bindparam("phone"))
    )
    .values(phone=bindparam("phone"))
)


_OWN_ADDRESSES = select(Address).where(Address.customer_id == bindparam("customer_id"))
_ADDRESSES = _OWN_ADDRESSES.order_by(Address.last_used_at.desc(), Address.id.desc())
_ADDRESS = _OWN_ADDRESSES.where(Address.id == bindparam("address_id"))
_ADDRESS_BY_TEXT = _OWN_ADDRESSES.where(Address.text == bindparam("text"))


class CustomerRepository(Repository):
    async def by_telegram_id(self, telegram_id: int) -> Customer | None:
        return await self.session.scalar(_CUSTOMER, {"telegram_id": telegram_id})

    async def with_staff_role(self, telegram_id: int) -> tuple[Customer | None, str | None]:
        """The customer and, when they are staff, their role (one query: every update asks)."""
        row = (await self.session.execute(_CUSTOMER_AND_ROLE, {"telegram_id": telegram_id})).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def with_staff_roles(self, telegram_ids: list[int]) -> dict[int, tuple[Customer, str | None]]:
        """``with_staff_role`` for many users in one query; those who are not customers are left out."""
        rows = await self.session.execute(_CUSTOMERS_AND_ROLES, {"telegram_ids": telegram_ids})
        return {customer.telegram_id: (customer, role) for customer, role in rows}

    async def get(self, customer_id: int) -> Customer | None:
        return await self._get(Customer, customer_id)

    async def highest_telegram_id(self) -> int:
        return int(await self.session.scalar(select(func.max(Customer.telegram_id))) or 0)

    async def set_phone(self, customer_id: int, phone: str) -> None:
        """The phone kept for the next checkout, written without reading the customer first."""
        await self.session.execute(_SET_PHONE, {"customer_id": customer_id, "phone": phone})

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    async def search(self, query: str, limit: int) -> list[Customer]:
        """Staff's lookup: name, username or phone contains the text; or an exact id or Telegram id."""
        if not query:
            return []
        pattern = contains(query.lower().lstrip("@"))
        conditions: list[ColumnElement[bool]] = [
            func.lower(Customer.first_name).like(pattern, escape="\\"),
            func.lower(func.coalesce(Customer.last_name, "")).like(pattern, escape="\\"),
            func.lower(func.coalesce(Customer.username, "")).like(pattern, escape="\\"),
            func.coalesce(Customer.phone, "").like(pattern, escape="\\"),
        ]
        if query.isdecimal() and query.isascii() and len(query) < 19:
            conditions.append(Customer.telegram_id == int(query))
            if int(query) < 2**31:  # ids are 32-bit: PostgreSQL refused a longer number (a phone)
                conditions.append(Customer.id == int(query))
        statement = (
            select(Customer)
            .where(or_(*conditions), Customer.deleted_at.is_(None))
            .order_by(Customer.id)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def all_active(self) -> list[Customer]:
        return list(
            await self.session.scalars(
                select(Customer).where(Customer.deleted_at.is_(None)).order_by(Customer.id)
            )
        )

    def add_address(self, address: Address) -> None:
        self.session.add(address)

    async def addresses(self, customer_id: int) -> list[Address]:
        return list(await self.session.scalars(_ADDRESSES, {"customer_id": customer_id}))

    async def address(self, customer_id: int, address_id: int) -> Address | None:
        return await self.session.scalar(_ADDRESS, {"customer_id": customer_id, "address_id": address_id})

    async def address_by_text(self, customer_id: int, text: str) -> Address | None:
        return await self.session.scalar(_ADDRESS_BY_TEXT, {"customer_id": customer_id, "text": text})

    async def delete_addresses(self, customer_id: int) -> None:
        await self.session.execute(delete(Address).where(Address.customer_id == customer_id))


@dataclass
class ProductQuery:
    category_id: int | None = None
    brand: str | None = None
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    in_stock: bool = False
    featured: bool = False
    text: str | None = None


_CATEGORIES = (
    select(
        Category,
        func.count(Product.id),
        # the same on every row: is any product featured (the "Featured" button), read in the same statement
        exists().where(Product.active, Product.featured).label("any_featured"),
    )
    .join(Product, (Product.category_id == Category.id) & Product.active, isouter=True)
    .where(Category.active)
    .group_by(Category.id)
    .order_by(Category.position, Category.id)  # as the catalog file first listed them: the shop's menu
)


# A page of products, its count and its shelf, from the statement of the products the filters match.
_SHAPED: dict[str, Callable[[Select[Product]], Any]] = {
    "count": lambda matching: select(func.count()).select_from(matching.subquery()),
    "page": lambda matching: (
        # Featured first, then as the catalog file first listed them (the shop's own menu order, the
        # same in every language), not by the English name.
        matching.order_by(Product.featured.desc(), Product.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    ),
    "shelf": lambda matching: matching.with_only_columns(Product.brand, Product.price_minor).group_by(
        Product.brand, Product.price_minor
    ),
}
_BUILT: dict[tuple[Any, ...], Any] = {}  # by kind and the filters used: a few dozen in practice, 3456 at most
# Each filter a query can use, its value a bind parameter of its name (``_filter_values``).
_FILTERS: dict[str, Any] = {
    "category_id": Product.category_id == bindparam("category_id"),
    "brand": Product.brand == bindparam("brand"),
    "min_price_minor": Product.price_minor >= bindparam("min_price_minor"),
    "max_price_minor": Product.price_minor <= bindparam("max_price_minor"),
    "in_stock": Product.stock > 0,
    "featured": Product.featured,
    "match": Product.id.in_(select(FTS.c.rowid).where(fts_match(bindparam("match")))),
}


def _word(name: str) -> ColumnElement[bool]:
    """A word the FTS index cannot find (``word0``, ``word1``…), scanned for with LIKE."""
    return Product.search_text.like(bindparam(name), escape="\\")


_COUNT_MATCHING = (
    select(func.count())
    .select_from(FTS)
    .where(fts_match(bindparam("match")))
    .execution_options(**{DEEP: True})
)


_RESERVE = (
    update(_PRODUCTS)
    .where(
        _PRODUCTS.c.id == bindparam("product_id"),
        _PRODUCTS.c.active,
        _PRODUCTS.c.stock >= bindparam("quantity"),
    )
    .values(stock=_PRODUCTS.c.stock - bindparam("quantity"))
)
_RELEASE = (
    update(_PRODUCTS)
    .where(_PRODUCTS.c.id == bindparam("product_id"))
    .values(stock=_PRODUCTS.c.stock + bindparam("quantity"))
)
_SET_PHOTO_FILE_ID = (
    update(_PRODUCTS)
    .where(_PRODUCTS.c.id == bindparam("product_id"))
    .values(photo_file_id=bindparam("file_id"))
)


_CATEGORIES_TABLE: Table = Category.__table__  # type: ignore[assignment]
_CATEGORY_NAMES = select(Category.id, Category.name)
_INSERT_CATEGORY = _CATEGORIES_TABLE.insert().returning(_CATEGORIES_TABLE.c.id)
_UPDATE_PRODUCT = _PRODUCTS.update().where(_PRODUCTS.c.id == bindparam("product_id"))


class CatalogRepository(Repository):
    async def categories_with_counts(self) -> tuple[list[tuple[Category, int]], bool]:
        """Active categories with their active products' counts; and whether any product is featured."""
        rows = (await self.session.execute(_CATEGORIES)).all()
        return [(category, int(n)) for category, n, _ in rows], any(row.any_featured for row in rows)

    async def category(self, category_id: int) -> Category | None:
        return await self._get(Category, category_id)

    async def category_ids(self, names: list[str]) -> dict[str, int]:
        """Each name's category id, by the name case-folded; a name no category has yet gets a new one.
        Compared in Python: SQLite's lower() folds ASCII letters only ("Чай" and "чай" would differ)."""
        ids = {name.casefold(): id_ for id_, name in await self.session.execute(_CATEGORY_NAMES)}
        new = {name.casefold(): name for name in names if name.casefold() not in ids}
        for folded, name in new.items():
            ids[folded] = int(await self.session.scalar(_INSERT_CATEGORY, {"name": name}))
        return ids

    async def existing_by_sku(
        self, skus: list[str]
    ) -> dict[str, tuple[int, str | None, str | None, Translations | None]]:
        """What an import finds of the products with these SKUs: each one's id, photo, Telegram's file id
        of the photo (kept while the photo is), and translations (kept where the file gives none)."""
        statement = select(
            Product.sku, Product.id, Product.photo, Product.photo_file_id, Product.translations
        )
        rows = await self.session.execute(statement.where(Product.sku.in_(skus)))
        return {sku: (id_, photo, file_id, translations) for sku, id_, photo, file_id, translations in rows}

    async def insert_products(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(_PRODUCTS.insert(), rows)

    async def update_products(self, rows: list[dict[str, Any]]) -> None:
        """Products' columns by name, each row's ``product_id`` saying which product."""
        if rows:
            await self.session.execute(_UPDATE_PRODUCT, rows)

    def _match(self, query: ProductQuery) -> tuple[str | None, list[str]]:
        """The query's words as one FTS5 MATCH (SQLite, words of three characters or more) and the rest,
        which a LIKE scan finds. PostgreSQL's pg_trgm index serves the LIKE itself: every word scans."""
        words = (query.text or "").lower().split()[:8]
        if self.dialect != "sqlite":
            return None, words
        indexed = [w for w in words if len(w) >= 3]
        # Each word a quoted phrase: a substring, its quotes and operators taken literally.
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        return match or None, [w for w in words if len(w) < 3]

    @staticmethod
    def _filter_values(query: ProductQuery, match: str | None, scanned: list[str]) -> dict[str, Any]:
        """The filters this query uses, by name, with their values (True for the flags), the text as
        ``_match`` split it. The one place that decides which filters apply: ``_built`` makes the
        statement from these names, and the names are what it keeps the statement by."""
        used = {
            "category_id": query.category_id,
            "brand": query.brand or None,
            "min_price_minor": query.min_price_minor,
            "max_price_minor": query.max_price_minor,
            "in_stock": query.in_stock or None,
            "featured": query.featured or None,
            "match": match,
        }
        values = {name: value for name, value in used.items() if value is not None}
        values.update({f"word{number}": contains(word) for number, word in enumerate(scanned)})
        return values

    @staticmethod
    def _built(kind: str, values: dict[str, Any]) -> Any:
        """The ``kind`` of statement (``_SHAPED``) for the filters named in ``values``, built the first
        time that set of filters is met and then kept: building a page's three statements took ~190 µs
        a page, as long as running one."""
        shape = (kind, *values)
        statement = _BUILT.get(shape)
        if statement is None:
            matching = select(Product).where(Product.active)
            for name in values:
                matching = matching.where(_FILTERS[name] if name in _FILTERS else _word(name))
            statement = _SHAPED[kind](matching)
            if "match" in values:  # a full-text search may work for milliseconds: off the loop's thread
                statement = statement.execution_options(**{DEEP: True})
            _BUILT[shape] = statement
        return statement

    async def page(self, query: ProductQuery, offset: int, limit: int) -> tuple[list[Product], int]:
        values = self._filter_values(query, *self._match(query))
        # Text alone, every word indexed: the FTS index holds active products only (migration 0007), so
        # it counts without reading a product.
        counting = _COUNT_MATCHING if list(values) == ["match"] else self._built("count", values)
        total = await self.session.scalar(counting, values)
        page = {**values, "offset": offset, "limit": limit}
        products = await self.session.scalars(self._built("page", values), page)
        return list(products), int(total or 0)

    async def shelf(self, query: ProductQuery) -> tuple[list[str], list[int]]:
        """The brands among the products a query matches, and their prices (each once, lowest first), in
        one statement."""
        values = self._filter_values(query, *self._match(query))
        rows = (await self.session.execute(self._built("shelf", values), values)).all()
        return sorted({brand for brand, _ in rows if brand}), sorted({int(price) for _, price in rows})

    async def product(self, product_id: int) -> Product | None:
        return await self._get(Product, product_id)

    async def by_sku(self, sku: str) -> Product | None:
        return await self.session.scalar(select(Product).where(Product.sku == sku))

    async def low_stock(self, threshold: int, limit: int) -> list[Product]:
        statement = (
            select(Product)
            .where(Product.active.is_(True), Product.stock <= threshold)
            .order_by(Product.stock, Product.name)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def product_count(self) -> int:
        return int(await self.session.scalar(select(func.count(Product.id))) or 0)

    async def all_products(self) -> list[Product]:
        statement = select(Product).options(selectinload(Product.category)).order_by(Product.sku)
        return list(await self.session.scalars(statement))

    def add(self, item: Product | Category) -> None:
        self.session.add(item)

    async def reserve_stock(self, product_id: int, quantity: int) -> bool:
        """Take ``quantity`` from stock only if that much is there: one statement, no read-then-write."""
        result = await self.session.execute(_RESERVE, {"product_id": product_id, "quantity": quantity})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def release_stock(self, product_id: int, quantity: int) -> None:
        await self.session.execute(_RELEASE, {"product_id": product_id, "quantity": quantity})

    async def set_photo_file_id(self, product_id: int, file_id: str) -> None:
        await self.session.execute(_SET_PHOTO_FILE_ID, {"product_id": product_id, "file_id": file_id})


# The cart, its lines and their products in one query.
_CART = (
    select(Cart)
    .where(Cart.customer_id == bindparam("customer_id"))
    .options(joinedload(Cart.items).joinedload(CartItem.product))
)
# The cart's lines as plain rows, for a look at the cart (no objects to build; changes go the ORM's way).
_CART_LINES = (
    select(
        _PRODUCTS.c.id,
        _PRODUCTS.c.sku,
        _PRODUCTS.c.name,
        _PRODUCTS.c.translations,
        _PRODUCTS.c.price_minor,
        _PRODUCTS.c.stock,
        _PRODUCTS.c.active,
        _CART_ITEMS.c.quantity,
        _CART_ITEMS.c.price_seen_minor,
    )
    .select_from(_CARTS)
    .join(_CART_ITEMS, _CART_ITEMS.c.cart_id == _CARTS.c.id)
    .join(_PRODUCTS, _PRODUCTS.c.id == _CART_ITEMS.c.product_id)
    .where(_CARTS.c.customer_id == bindparam("customer_id"))
    .order_by(_CART_ITEMS.c.id)
)
# How many of one product a customer's cart holds (a product card's "in the cart").
_QUANTITY = (
    select(CartItem.quantity)
    .join(Cart, Cart.id == CartItem.cart_id)
    .where(Cart.customer_id == bindparam("customer_id"), CartItem.product_id == bindparam("product_id"))
)
_CART_ID = select(_CARTS.c.id).where(_CARTS.c.customer_id == bindparam("customer_id"))
_TOUCH_CART = update(_CARTS).where(_CARTS.c.id == bindparam("cart_id")).values(updated_at=bindparam("at"))
_ADD_LINE = _CART_ITEMS.insert().values(  # (bind names other than the columns': SQLAlchemy's rule)
    cart_id=bindparam("in_cart"),
    product_id=bindparam("of_product"),
    quantity=bindparam("count"),
    price_seen_minor=bindparam("price"),
)
_SET_LINE = (
    update(_CART_ITEMS)
    .where(_CART_ITEMS.c.cart_id == bindparam("in_cart"), _CART_ITEMS.c.product_id == bindparam("of_product"))
    .values(quantity=bindparam("count"), price_seen_minor=bindparam("price"))
)
_DRAFT = select(CheckoutDraft).where(CheckoutDraft.customer_id == bindparam("customer_id"))
_DRAFT_LOCKED = _DRAFT.with_for_update()


@functools.cache
def _draft_update(columns: frozenset[str]) -> ExecutableReturnsRows:
    """An UPDATE of these columns of a customer's draft, returning it as an ORM object: built once for
    each set of columns (a step writes one or two)."""
    update_draft = (
        update(_DRAFTS)
        .where(_DRAFTS.c.customer_id == bindparam("draft_of"))
        .values({name: bindparam(f"new_{name}") for name in sorted(columns)})
        .returning(*_DRAFTS.c)
    )
    return select(CheckoutDraft).from_statement(update_draft).execution_options(populate_existing=True)


_DELETE_DRAFT = delete(_DRAFTS).where(_DRAFTS.c.customer_id == bindparam("customer_id"))
_DELETE_CART = delete(_CARTS).where(_CARTS.c.customer_id == bindparam("customer_id"))  # its lines by cascade


class CartRepository(Repository):
    async def cart(self, customer_id: int) -> Cart | None:
        return (await self.session.execute(_CART, {"customer_id": customer_id})).unique().scalar_one_or_none()

    async def lines(self, customer_id: int) -> list[Any]:
        """The cart's lines with their products' sku, name, price, stock and whether they are on sale, as
        rows (``_CART_LINES``): 165 µs against 270 for the cart as objects."""
        return list(await self.session.execute(_CART_LINES, {"customer_id": customer_id}))

    async def quantity(self, customer_id: int, product_id: int) -> int:
        """How many of the product the customer's cart holds (0: none, or no cart). The whole cart with
        its products, for one number, took 430 µs against 250 (a cart of two lines)."""
        found = await self.session.scalar(_QUANTITY, {"customer_id": customer_id, "product_id": product_id})
        return int(found or 0)

    async def get_or_create(self, customer_id: int) -> Cart:
        cart = await self.cart(customer_id)
        if cart is None:
            cart = Cart(customer_id=customer_id, items=[])
            self.session.add(cart)
            await self.session.flush()
        return cart

    async def put_line(self, customer_id: int, product_id: int, quantity: int, price_minor: int) -> None:
        """Set how many of the product the customer's cart holds (a line added, or its quantity set), with
        the price they saw, and mark the cart changed: statements on the tables, no objects (the cart as
        objects and their flush cost three times as much). The cart is made on the first line."""
        cart_id = await self.session.scalar(_CART_ID, {"customer_id": customer_id})
        if cart_id is None:
            cart_id = (await self.get_or_create(customer_id)).id
        values = {"in_cart": cart_id, "of_product": product_id, "count": quantity, "price": price_minor}
        if not (await self.session.execute(_SET_LINE, values)).rowcount:  # type: ignore[attr-defined]
            await self.session.execute(_ADD_LINE, values)
        await self.session.execute(_TOUCH_CART, {"cart_id": cart_id, "at": utcnow()})

    async def draft(self, customer_id: int, *, lock: bool = False) -> CheckoutDraft | None:
        """The checkout draft; ``lock`` holds it (FOR UPDATE) so concurrent "Place order" calls take turns."""
        return await self.session.scalar(_DRAFT_LOCKED if lock else _DRAFT, {"customer_id": customer_id})

    async def update_draft(self, customer_id: int, values: dict[str, Any]) -> CheckoutDraft | None:
        """Write ``values`` into the customer's draft and return it; None when there is none. One
        statement (an UPDATE returning the row as the session's object): reading the draft and flushing
        it cost two, and the flush's bookkeeping (390 µs against 290 for the unit of work)."""
        statement = _draft_update(frozenset(values))
        parameters = {f"new_{key}": value for key, value in values.items()}
        return await self.session.scalar(statement, {"draft_of": customer_id, **parameters})

    def add_draft(self, draft: CheckoutDraft) -> None:
        self.session.add(draft)

    async def delete_draft(self, customer_id: int) -> None:
        await self.session.execute(_DELETE_DRAFT, {"customer_id": customer_id})

    async def delete_cart(self, customer_id: int) -> None:
        await self.session.execute(_DELETE_CART, {"customer_id": customer_id})

    async def untouched_between(self, since: datetime, until: datetime) -> list[tuple[Cart, Customer]]:
        """Carts with items last changed in [since, until], of customers who take reminders."""
        statement = (
            select(Cart, Customer)
            .join(Customer, Customer.id == Cart.customer_id)
            .where(
                Cart.updated_at >= since,
                Cart.updated_at <= until,
                Cart.items.any(),
                Customer.cart_reminders.is_(True),
                Customer.blocked_at.is_(None),
                Customer.deleted_at.is_(None),
            )
            .options(selectinload(Cart.items).joinedload(CartItem.product))
            .order_by(Cart.id)
        )
        return [(cart, customer) for cart, customer in (await self.session.execute(statement)).all()]


_ORDER_WITH_DETAILS = select(Order).options(selectinload(Order.items), selectinload(Order.events))
_ORDER_BY_TOKEN = _ORDER_WITH_DETAILS.where(Order.checkout_token == bindparam("token"))
# Unpaid with a receipt to check, paid, in preparation, ready, or on the way.
_NEEDS_ACTION = Order.status.in_(["pending_payment", "paid", "preparing", "ready", "out_for_delivery"])
_ORDER_COUNT = select(func.count(Order.id)).where(Order.customer_id == bindparam("customer_id"))
_CUSTOMER_ORDERS = (  # a page of the history shows each order's number, total and status: the orders alone
    select(Order)
    .options(raiseload(Order.items), raiseload(Order.events))
    .where(Order.customer_id == bindparam("customer_id"))
    .order_by(Order.created_at.desc(), Order.id.desc())
    .offset(bindparam("offset", type_=Integer))
    .limit(bindparam("limit", type_=Integer))
)


class OrderRepository(Repository):
    async def get(self, order_id: int) -> Order | None:
        return await self.session.scalar(_ORDER_WITH_DETAILS.where(Order.id == order_id))

    async def by_token(self, token: str) -> Order | None:
        return await self.session.scalar(_ORDER_BY_TOKEN, {"token": token})

    def add(self, order: Order) -> None:
        self.session.add(order)

    async def for_customer(self, customer_id: int, offset: int, limit: int) -> tuple[list[Order], int]:
        """A page of a customer's orders, newest first, without their items and history; and how many."""
        total = await self.session.scalar(_ORDER_COUNT, {"customer_id": customer_id})
        values = {"customer_id": customer_id, "offset": offset, "limit": limit}
        return list(await self.session.scalars(_CUSTOMER_ORDERS, values)), int(total or 0)

    async def unpaid_before(self, moment: datetime, *, lock: bool = False) -> list[Order]:
        """Orders placed by ``moment`` and still awaiting payment; ``lock`` holds them (FOR UPDATE), so a
        payment or a receipt for one of them waits until this transaction ends, and then finds its new
        status."""
        statement = (
            _ORDER_WITH_DETAILS.options(selectinload(Order.customer))
            .where(Order.status == "pending_payment", Order.created_at <= moment)
            .order_by(Order.id)
        )
        if lock:
            statement = statement.with_for_update(of=Order).execution_options(populate_existing=True)
        return list(await self.session.scalars(statement))

    async def placed_since(self, since: datetime) -> list[Order]:
        return list(await self.session.scalars(_ORDER_WITH_DETAILS.where(Order.created_at >= since)))

    async def customers_who_bought_before(self, moment: datetime, statuses: list[str]) -> set[int]:
        statement = (
            select(Order.customer_id).where(Order.created_at < moment, Order.status.in_(statuses)).distinct()
        )
        return set(await self.session.scalars(statement))

    async def all_orders(self) -> list[Order]:
        return list(await self.session.scalars(_ORDER_WITH_DETAILS.order_by(Order.id)))

    async def all_for_customer(self, customer_id: int) -> list[Order]:
        statement = _ORDER_WITH_DETAILS.where(Order.customer_id == customer_id).order_by(Order.id)
        return list(await self.session.scalars(statement))

    async def needing_action(self, offset: int, limit: int) -> tuple[list[Order], int]:
        """A page of the orders staff have to act on, oldest first; and how many there are."""
        statement = (
            _ORDER_WITH_DETAILS.options(selectinload(Order.customer))
            .where(_NEEDS_ACTION)
            .order_by(Order.created_at, Order.id)
            .offset(offset)
            .limit(limit)
        )
        total = await self.session.scalar(select(func.count(Order.id)).where(_NEEDS_ACTION))
        return list(await self.session.scalars(statement)), int(total or 0)

    async def handed_on_unpaid(self) -> list[Order]:
        """Orders on their way to the customer (prepared, ready, out) and not yet paid: those paid at
        handover (only they get there unpaid), whatever the setting says now."""
        statement = select(Order).where(
            Order.status.in_(["preparing", "ready", "out_for_delivery"]),
            Order.paid_at.is_(None),
        )
        return list(await self.session.scalars(statement))

    async def with_customer(self, order_id: int, *, lock: bool = False) -> Order | None:
        """The order with its customer; ``lock`` holds it (FOR UPDATE) for a payment: it then takes
        turns with the expiry job and other payments, and reads the status they left."""
        statement = _ORDER_WITH_DETAILS.options(selectinload(Order.customer)).where(Order.id == order_id)
        if lock:
            statement = statement.with_for_update(of=Order).execution_options(populate_existing=True)
        return await self.session.scalar(statement)

    async def by_pickup_code(self, code: str) -> Order | None:
        return await self.session.scalar(
            _ORDER_WITH_DETAILS.options(selectinload(Order.customer)).where(Order.pickup_code == code.upper())
        )

    async def latest_awaiting_payment(self, customer_id: int) -> Order | None:
        """Held (FOR UPDATE) for the receipt it is about to get: an expiry running meanwhile goes first
        or waits, and this reads the status it left."""
        statement = (
            _ORDER_WITH_DETAILS.where(Order.customer_id == customer_id, Order.status == "pending_payment")
            .order_by(Order.id.desc())
            .limit(1)
            .with_for_update(of=Order)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)

    async def pseudonymise(self, customer_id: int) -> None:
        """The customer's orders keep their numbers, items, money and status history; not the address,
        phone, notes or the photos of their receipts (a bank's screenshot names the payer and their
        account), nor the words staff wrote about them: the notes of status changes ("Ann asked to cancel,
        call +1…") and the reasons payments were turned down. (A Stars payment's reason is Telegram's
        amount in Stars, kept for the books.)"""
        theirs = select(Order.id).where(Order.customer_id == customer_id)
        await self.session.execute(
            update(Order)
            .where(Order.customer_id == customer_id)
            .values(address_text=None, phone=None, notes=None, receipt_file_id=None)
        )
        await self.session.execute(
            update(Payment).where(Payment.order_id.in_(theirs)).values(proof_file_id=None)
        )
        await self.session.execute(
            update(Payment)
            .where(Payment.order_id.in_(theirs), Payment.status == "rejected")
            .values(reason=None)
        )
        await self.session.execute(
            update(OrderEvent).where(OrderEvent.order_id.in_(theirs)).values(reason=None)
        )

    async def reference_taken(self, reference: str) -> bool:
        return bool(
            await self.session.scalar(select(func.count(Order.id)).where(Order.reference == reference))
        )

    async def item_count(self, order_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.coalesce(func.sum(OrderItem.quantity), 0)).where(OrderItem.order_id == order_id)
            )
            or 0
        )


__all__ = [
    "CartRepository",
    "CatalogRepository",
    "CustomerRepository",
    "OrderRepository",
    "ProductQuery",
    "UpdateRepository",
]


class StaffRepository(Repository):
    async def by_telegram_id(self, telegram_id: int) -> Staff | None:
        return await self.session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))

    async def all(self) -> list[Staff]:
        return list(await self.session.scalars(select(Staff).order_by(Staff.id)))

    def add(self, member: Staff) -> None:
        self.session.add(member)

    async def remove(self, telegram_id: int) -> bool:
        result = await self.session.execute(delete(Staff).where(Staff.telegram_id == telegram_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]


class PaymentRepository(Repository):
    async def get(self, payment_id: int) -> Payment | None:
        statement = (
            select(Payment)
            .where(Payment.id == payment_id)
            .options(
                selectinload(Payment.order).selectinload(Order.items),
                selectinload(Payment.order).selectinload(Order.events),
                selectinload(Payment.order).selectinload(Order.customer),
            )
        )
        return await self.session.scalar(statement)

    def add(self, payment: Payment) -> None:
        self.session.add(payment)

    async def by_reference(self, reference: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment).where(func.lower(Payment.reference) == reference.lower())
        )

    async def by_charge(self, charge_id: str) -> Payment | None:
        return await self.session.scalar(select(Payment).where(Payment.telegram_charge_id == charge_id))

    async def for_order(self, order_id: int) -> list[Payment]:
        return list(
            await self.session.scalars(
                select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
            )
        )

    async def orders_with_money_in(self, order_ids: list[int]) -> set[int]:
        """Of these orders, those with a payment pending or verified: money came in for them."""
        if not order_ids:
            return set()
        statement = select(Payment.order_id).where(
            Payment.order_id.in_(order_ids), Payment.status.in_(("pending", "verified"))
        )
        return set(await self.session.scalars(statement))

    async def verified_total(self, order_id: int) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.order_id == order_id, Payment.status == "verified"
            )
        )
        return int(total or 0)

    async def verified_since(self, since: datetime) -> list[Payment]:
        moment = func.coalesce(Payment.decided_at, Payment.created_at)
        statement = (
            select(Payment)
            .options(joinedload(Payment.order))  # each payment's order: what it counts towards
            .where(Payment.status == "verified", moment >= since)
            .order_by(Payment.id)
        )
        return list(await self.session.scalars(statement))

    async def pending_count(self) -> int:
        return int(
            await self.session.scalar(select(func.count(Payment.id)).where(Payment.status == "pending")) or 0
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count(Payment.id))) or 0)

    async def listing(self, pending_only: bool, limit: int) -> list[Payment]:
        statement = (
            select(Payment)
            .options(selectinload(Payment.order).selectinload(Order.customer))
            .order_by(Payment.id.desc())
            .limit(limit)
        )
        if pending_only:
            statement = statement.where(Payment.status == "pending")
        return list(await self.session.scalars(statement))


def _claimable() -> tuple[ColumnElement[bool] | TextClause, ...]:
    """Due (at ``:now``), not claimed by a live worker, and of a chat none of whose messages is on its
    way: one a worker holds (leased), or one Telegram refused for now (a 429 or a network error: it
    waits, due again later). A chat's messages thus go one round after another, in order, whichever
    worker sends them; a message kept for the end of the quiet hours holds up nothing.

    The partial indexes' own conditions are stated word for word (``storage.models``): a planner uses
    such an index only for a query that states them, and a bound parameter in their place would not do.
    The chat is asked about per candidate row: a probe of a small index, not a scan of every pending row
    (a broadcast's thousands)."""
    now = bindparam("now", type_=OutboxMessage.__table__.c.due_at.type)
    other = aliased(OutboxMessage)
    on_its_way = (
        select(other.id)
        .where(
            other.chat_id == OutboxMessage.chat_id,
            text(PENDING),
            text(ON_ITS_WAY),
            or_(other.leased_until > now, and_(other.last_error.is_not(None), other.due_at > now)),
        )
        .exists()
    )
    return (
        text(PENDING),
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until <= now),
        ~on_its_way,
    )


_CLAIMABLE = _claimable()
_ANY_DUE = select(OutboxMessage.id).where(*_CLAIMABLE).limit(1)
_DUE = (
    select(OutboxMessage)
    .where(*_CLAIMABLE)
    .order_by(OutboxMessage.due_at, OutboxMessage.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
_OLDEST = (
    select(OutboxMessage.chat_id, func.min(OutboxMessage.id))
    .where(*_CLAIMABLE, OutboxMessage.chat_id.in_(bindparam("chats", expanding=True)))
    .group_by(OutboxMessage.chat_id)
)


[_OUTBOX] = tables(OutboxMessage)
# On the table: the columns a message has are given at execution (the ORM's bulk INSERT is not needed)
_ENQUEUE = InsertIgnoring(_OUTBOX)
_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(leased_until=bindparam("until"))
)


class OutboxRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.queued = 0  # messages this unit of work queued (the bot delivers them right after)

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Queue a message unless its dedupe key was queued before (then False, nothing changes)."""
        values = {
            c.key: getattr(message, c.key)
            for c in _OUTBOX.columns
            if c.key != "id" and getattr(message, c.key) is not None
        }
        values.setdefault("due_at", utcnow())
        values.setdefault("created_at", utcnow())
        values.setdefault("status", "pending")
        values.setdefault("attempts", 0)
        values.setdefault("language", "en")
        values.setdefault("context", {})
        statement = _ENQUEUE.on(self.dialect)
        result = await self.session.execute(statement, values)
        self.queued += bool(result.rowcount)  # type: ignore[attr-defined]
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Claimable rows (``_CLAIMABLE``), locked for this transaction; rows another worker has locked
        are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer at a time anyway).

        A chat's rows are kept only when they start at its oldest claimable one, so newer rows never
        overtake it: on PostgreSQL another worker may be claiming that one right now (locked, so skipped
        here, its lease not yet committed); and a full batch, taken by due time, may have left out an
        older row due later (kept for the quiet hours) that is due too. On SQLite a batch with room to
        spare holds every claimable row, and the check is skipped.
        """
        rows = list(await self.session.scalars(_DUE, {"now": now, "limit": limit}))
        if not rows or (self.dialect == "sqlite" and len(rows) < limit):
            return rows
        chats = {"now": now, "chats": list({row.chat_id for row in rows})}
        first: dict[int, int] = {chat: oldest for chat, oldest in await self.session.execute(_OLDEST, chats)}
        mine: dict[int, int] = {}
        for row in rows:
            mine[row.chat_id] = min(row.id, mine.get(row.chat_id, row.id))
        return [row for row in rows if mine[row.chat_id] == first.get(row.chat_id)]

    async def held(self) -> list[OutboxMessage]:
        """Staff messages held for want of anyone to receive them (``shop.notifications.notify_staff``)."""
        statement = select(OutboxMessage).where(OutboxMessage.status == "held").order_by(OutboxMessage.id)
        return list(await self.session.scalars(statement))

    async def any_due(self, now: datetime) -> bool:
        return await self.session.scalar(_ANY_DUE, {"now": now}) is not None

    async def lease(self, ids: list[int], until: datetime) -> None:
        """Claimed rows are this worker's until ``until``: it sends them, or they are claimable after."""
        if ids:
            await self.session.execute(_LEASE, {"ids": ids, "until": until})

    async def release(self, ids: list[int]) -> None:
        """Claimed rows left unsent (behind a refused one): claimable again, in their turn."""
        if ids:
            await self.session.execute(_LEASE, {"ids": ids, "until": None})

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self._get(OutboxMessage, message_id)

    async def backlog(self) -> int:
        statement = select(func.count(OutboxMessage.id)).where(text(PENDING))  # the partial index's words
        return int(await self.session.scalar(statement) or 0)

    async def by_key(self, dedupe_key: str) -> OutboxMessage | None:
        return await self.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))

    async def forget_customer(self, customer_id: int, chat_id: int) -> int:
        """Every message, sent or not, to the customer's chat or about them (a staff alert about their
        order); how many."""
        about = or_(OutboxMessage.about_customer_id == customer_id, OutboxMessage.chat_id == chat_id)
        result = await self.session.execute(delete(OutboxMessage).where(about))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_done_before(self, moment: datetime) -> int:
        """Messages sent (or given up on) that were queued before ``moment``; how many."""
        done = OutboxMessage.status.not_in(["pending", "held"])  # held: waiting for someone to receive it
        result = await self.session.execute(
            delete(OutboxMessage).where(done, OutboxMessage.created_at < moment)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class NoteRepository(Repository):
    def add(self, note: CustomerNote) -> None:
        self.session.add(note)

    async def get(self, note_id: int) -> CustomerNote | None:
        return await self._get(CustomerNote, note_id)

    async def for_customer(self, customer_id: int) -> list[CustomerNote]:
        return list(
            await self.session.scalars(
                select(CustomerNote).where(CustomerNote.customer_id == customer_id).order_by(CustomerNote.id)
            )
        )

    async def delete_for(self, customer_id: int) -> None:
        await self.session.execute(delete(CustomerNote).where(CustomerNote.customer_id == customer_id))


_BALANCE = select(LoyaltyAccount.balance).where(LoyaltyAccount.customer_id == bindparam("customer_id"))


_ACCOUNT = select(LoyaltyAccount).where(LoyaltyAccount.customer_id == bindparam("customer_id"))
_ACCOUNT_HELD = _ACCOUNT.with_for_update().execution_options(populate_existing=True)
_OPEN_ACCOUNT = InsertIgnoring(LoyaltyAccount.__table__)  # a new customer's, at zero; else nothing


class LoyaltyRepository(Repository):
    async def account(self, customer_id: int, *, lock: bool = False) -> LoyaltyAccount:
        """The customer's account. Writers ``lock`` it: created at zero if new, then held FOR UPDATE so
        ledger writes for one customer take turns. Readers of a customer without one get zeros (not added)."""
        if not lock:
            found = await self.session.scalar(_ACCOUNT, {"customer_id": customer_id})
            return found or LoyaltyAccount(customer_id=customer_id, balance=0, lifetime=0)
        opened = {"customer_id": customer_id, "balance": 0, "lifetime": 0, "updated_at": utcnow()}
        await self.session.execute(_OPEN_ACCOUNT.on(self.dialect), opened)
        held = await self.session.scalar(_ACCOUNT_HELD, {"customer_id": customer_id})
        assert held is not None
        return held

    async def balance(self, customer_id: int) -> int:
        return int(await self.session.scalar(_BALANCE, {"customer_id": customer_id}) or 0)

    async def lifetime(self, customer_ids: list[int]) -> dict[int, int]:
        """Lifetime points per customer (the tier's basis); customers without an account are left out."""
        statement = select(LoyaltyAccount.customer_id, LoyaltyAccount.lifetime).where(
            LoyaltyAccount.customer_id.in_(customer_ids)
        )
        return {cid: int(points) for cid, points in await self.session.execute(statement)}

    def add(self, entry: LoyaltyEntry) -> None:
        self.session.add(entry)

    async def entries(self, customer_id: int) -> list[LoyaltyEntry]:
        """The customer's ledger, oldest first."""
        statement = (
            select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id).order_by(LoyaltyEntry.id)
        )
        return list(await self.session.scalars(statement))

    async def for_order(self, order_id: int) -> list[LoyaltyEntry]:
        statement = select(LoyaltyEntry).where(LoyaltyEntry.order_id == order_id).order_by(LoyaltyEntry.id)
        return list(await self.session.scalars(statement))

    async def forget_reasons(self, customer_id: int) -> None:
        """The ledger keeps every entry's points; not their reasons, which staff write about the customer
        (``/points 12 +50 birthday, call +1…``). The rest say what the entry's kind and order say."""
        await self.session.execute(
            update(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id).values(reason=None)
        )

    async def holders_expiring_by(self, moment: datetime) -> list[int]:
        """Customers who may hold points that expire by ``moment`` (``next_expiry`` is never later)."""
        statement = (
            select(LoyaltyAccount.customer_id)
            .where(LoyaltyAccount.next_expiry <= moment)
            .order_by(LoyaltyAccount.customer_id)
        )
        return list(await self.session.scalars(statement))


class BroadcastRepository(Repository):
    def add(self, broadcast: Broadcast) -> None:
        self.session.add(broadcast)

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self._get(Broadcast, broadcast_id)

    async def unfinished(self) -> list[Broadcast]:
        statement = select(Broadcast).where(Broadcast.finished_at.is_(None)).order_by(Broadcast.id)
        return list(await self.session.scalars(statement))

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        """How many of its messages are pending, sent, failed, unreachable."""
        statement = (
            select(OutboxMessage.status, func.count(OutboxMessage.id))
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status)
        )
        return {status: int(n) for status, n in await self.session.execute(statement)}


_CLAIM_TICK = InsertIgnoring(JobTick.__table__)


class TickRepository(Repository):
    async def claim(self, name: str, tick: int, worker: str) -> bool:
        """True for the one worker whose row for (job, tick) went in; False for everyone after."""
        claimed = {"name": name, "tick": tick, "worker": worker, "ran_at": utcnow()}
        result = await self.session.execute(_CLAIM_TICK.on(self.dialect), claimed)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget_before(self, moment: datetime) -> None:
        await self.session.execute(delete(JobTick).where(JobTick.ran_at < moment))
