"""aiogram routers, callback data, keyboards and the template renderer (floor 3)."""

from .lean_types import import_aiogram

import_aiogram()  # before anything else imports aiogram: its types are built when first used

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from aiogram import Router  # noqa: E402
from aiogram.dispatcher.event.handler import FilterObject  # noqa: E402

from .gates import Gated, Gates, gates_of  # noqa: E402


def routers() -> list[Router]:
    """The bot's routers, under one parent that tries each only when its gate lets the update through
    (``handlers.gates``): the staff routers behind one gate (``may_be_for_staff``), then the customer's,
    the catch-all last.

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
    from .staff.access import may_be_for_staff

    staff_tree = Router(name="staff_tree")  # a new one for each dispatcher
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
    staff_tree.include_routers(*staff_routers)
    staff_gates: Gates = {"message": may_be_for_staff, "callback_query": may_be_for_staff}
    gated = [(staff_tree, staff_gates), *((router, gates_of(router)) for router in customer_routers)]
    return [Gated("shop", gated)]


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

    inline.plain = plain  # type: ignore[attr-defined]  # the filter as written, for handlers.gates

    # ``params`` and ``varkw`` stay those of the plain callback: aiogram passes it what it asks for
    check.callback, check.awaitable = inline, True
