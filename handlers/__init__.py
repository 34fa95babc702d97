"""aiogram routers, callback data, keyboards and the template renderer (floor 3)."""

from .lean_types import import_aiogram

import_aiogram()  # before anything else imports aiogram: its types are built when first used

from aiogram import Router  # noqa: E402


def routers() -> list[Router]:
    """Every router in the order it must be tried; the catch-all last.

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

    ordered = [
        staff.router,
        staff_catalog.router,
        staff_reports.router,
        staff_products.router,
        staff_loyalty.router,
        staff_broadcast.router,
        refusal.router,
        start.router,
        checkout.router,
        catalog.router,
        cart.router,
        orders.router,
        points.router,
        telegram_pay.router,
        fallback.router,
    ]
    for router in ordered:
        router._parent_router = None  # aiogram offers no public way to detach a router
    return ordered
