"""Money verified after an order was handed over: the cash taken at handover pays it; anything beyond what
it cost is to be given back (``Settlement.order_closed``, ``overpaid_minor``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shop import orders, payments
from shop.orders import OrderStatus as S
from tests.factories import make_product
from tests.shop.test_reminders import CLERK, CONFIG, OWNER, order_of, outbox

SHOP = replace(CONFIG, admin_ids=(OWNER,))


async def move(uow: Any, number: int, *statuses: S) -> None:
    for status in statuses:
        async with uow() as u:
            await orders.change_status(u, number, status, OWNER, None, SHOP)


async def test_a_second_payment_for_an_order_paid_before_it_was_completed_is_to_give_back(uow: Any) -> None:
    tea = await make_product(uow, stock=20)
    _, number = await order_of(uow, "Ann", tea.id, SHOP)  # $9.00 by transfer
    async with uow() as u:
        assert (
            await payments.record_payment(u, number, "9.00", "transfer", None, OWNER, SHOP)
        ).order_became_paid
    await move(uow, number, S.preparing, S.ready)
    async with uow() as u:  # the same transfer, recorded again by an employee
        again = (await payments.record_payment(u, number, "9.00", "transfer", None, CLERK, SHOP)).payment
    await move(uow, number, S.completed)
    async with uow() as u:
        settled = await payments.verify_payment(u, again.id, OWNER, SHOP)
    assert settled.order_closed and not settled.order_became_paid
    assert {m.context["number"] for m in await outbox(uow, "payment_on_closed_order")} == {number}  # told


async def test_cash_two_employees_took_for_one_order_pays_it_once_the_rest_to_give_back(uow: Any) -> None:
    tea = await make_product(uow, stock=20)
    _, number = await order_of(uow, "Ann", tea.id, SHOP)
    async with uow() as u:
        await u.begin_write()
        (await u.orders.get(number)).payment_method = "cash"
        await u.commit()
    await move(uow, number, S.preparing, S.ready)
    taken = []
    for _ in range(2):
        async with uow() as u:
            taken.append(
                (await payments.record_payment(u, number, "9.00", "cash", None, CLERK, SHOP)).payment.id
            )
    await move(uow, number, S.completed)  # handed over: both waited for the owner
    settled = []
    for payment_id in taken:
        async with uow() as u:
            settled.append(await payments.verify_payment(u, payment_id, OWNER, SHOP))
    assert (settled[0].order_closed, settled[0].order_became_paid) == (False, True)  # paid the order
    assert settled[1].order_closed and not settled[1].order_became_paid  # the same money twice
    async with uow() as u:
        assert (await u.orders.get(number)).paid_at is not None
