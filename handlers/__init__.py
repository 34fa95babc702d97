"""aiogram routers, callback data, keyboards and the template renderer (floor 3)."""

from .lean_types import import_aiogram

import_aiogram()  # before anything else imports aiogram: its types are built when first used

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from aiogram import Router  # noqa: E402
from aiogram.dispatcher.event.handler import FilterObject  # noqa: E402
from aiogram.filters import Filter  # noqa: E402
from aiogram.filters.callback_data import CallbackQueryFilter  # noqa: E402
from aiogram.types import CallbackQuery  # noqa: E402

from .callbacks import prefix_of  # noqa: E402


def routers() -> list[Router]:
    """Every router in the order it must be tried: the staff routers behind one gate (``MayBeForStaff``),
    then the customer's, the catch-all last.

    Routers are module singletons (aiogram's style); a new dispatcher (tests build many in one process)
    takes them over from the previous one.
    """
    from .customer import cart, catalog, checkout, fallback, orders, points, start, telegram_pay
    from .staff import broadcast as staff_broadcast
    from .staff import catalog as staff_catalog
    from .staff import loyalty as staff_loyalty
    from .staff import orders as staff
    from .staff import products as staff_products
    from .staff import refusal
    from .staff import reports as staff_reports
    from .staff.access import MayBeForStaff

    staff_tree = Router(name="staff_tree")  # a new one for each dispatcher
    staff_tree.message.filter(MayBeForStaff())
    staff_tree.callback_query.filter(MayBeForStaff())
    staff_routers = [
        staff.router,
        staff_catalog.router,
        staff_reports.router,
        staff_products.router,
        staff_loyalty.router,
        staff_broadcast.router,
        refusal.router,  # everyone else: staff commands and buttons refused
    ]
    customer_routers = [
        start.router,
        checkout.router,
        checkout.steps,
        catalog.router,
        cart.router,
        orders.router,
        points.router,
        telegram_pay.router,
        fallback.router,
    ]
    for router in [*staff_routers, *customer_routers]:
        router._parent_router = None  # aiogram offers no public way to detach a router
        run_filters_inline(router)
    for router in customer_routers:
        gate_presses(router)
    staff_tree.include_routers(*staff_routers)
    return [staff_tree, *customer_routers]


def run_filters_inline(router: Router) -> None:
    """Every plain (not ``async``) filter of the router made to run on the event loop.

    aiogram runs a filter that is not a coroutine function — ``F.text``, ``F.chat.type == "private"``, a
    state such as ``Checkout.phone`` — through ``asyncio.to_thread``: a thread switch, a future and a loop
    wake-up for a check that takes a microsecond. A message tries a filter of every handler until one
    matches, so a tap on "🛒 Cart" cost 16 of those round trips (bench updates: 4 per update). Our
    filters never block, so they run where they are asked. Idempotent: a router is taken over by every
    new dispatcher.
    """
    for check in filters_of(router):
        if not check.awaitable:
            _inline(check)


class PressFor(Filter):
    """A router's gate for presses: their callback data's prefix is one of its buttons'."""

    def __init__(self, prefixes: frozenset[str]) -> None:
        self.prefixes = prefixes

    async def __call__(self, callback: CallbackQuery) -> bool:
        return prefix_of(callback.data) in self.prefixes


def gate_presses(router: Router) -> None:
    """A gate on the router's presses when every handler of them takes one kind of button
    (``SomeCb.filter(...)``): a press for another router passes this one with one check instead of a
    try of each handler's filter (each parses the data). A router with a handler for any press (the
    fallback) gets none. Idempotent, as ``run_filters_inline``."""
    observer = router.callback_query
    if any(isinstance(check.callback, PressFor) for check in observer._handler.filters or []):
        return
    prefixes: set[str] = set()
    for handler in observer.handlers:
        kinds = {
            check.callback.callback_data.__prefix__
            for check in handler.filters or []
            if isinstance(check.callback, CallbackQueryFilter)
        }
        if not kinds:
            return
        prefixes |= kinds
    if prefixes:
        observer.filter(PressFor(frozenset(prefixes)))


def filters_of(router: Router) -> Iterator[FilterObject]:
    """Every filter of the router: those on each observer (``router.message.filter(...)``, kept by
    aiogram in the observer's private ``_handler``) and those of each handler."""
    for observer in router.observers.values():
        for handler in [observer._handler, *observer.handlers]:
            yield from handler.filters or []


def _inline(check: FilterObject) -> None:
    plain = check.callback

    async def inline(*args: Any, **kwargs: Any) -> Any:
        return plain(*args, **kwargs)

    # ``params`` and ``varkw`` stay those of the plain callback: aiogram passes it what it asks for
    check.callback, check.awaitable = inline, True
