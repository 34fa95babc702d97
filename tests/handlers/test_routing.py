"""Routing: every filter runs on the event loop (handlers.run_filters_inline), and still filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup

from handlers import PressFor, filters_of, gate_presses, routers, run_filters_inline
from handlers.callbacks import CartAction, CartCb, CatalogCb, ProductAction, ProductCb


def test_no_filter_of_the_bot_goes_through_a_thread() -> None:
    plain = [
        f"{router.name}: {check.callback!r}"
        for top in routers()
        for router in top.chain_tail
        for check in filters_of(router)
        if not check.awaitable
    ]
    assert not plain, plain


class Form(StatesGroup):
    name = State()


async def test_an_inlined_filter_decides_as_before_and_never_leaves_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = Router()
    router.message.filter(F.chat.type == "private")

    @router.message(Form.name, F.text.len() > 2)
    async def named(message: Any) -> None: ...

    handler = router.message.handlers[0]
    run_filters_inline(router)
    run_filters_inline(router)  # a router taken over by a second dispatcher: nothing changes twice

    async def no_threads(*_: Any, **__: Any) -> Any:
        raise AssertionError("a filter went to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)

    class Chat:
        type = "private"

    class Message:
        chat = Chat()
        text = "Ann"

    message = Message()
    assert (await router.message._handler.check(message))[0]
    assert (await handler.check(message, raw_state=Form.name.state))[0]
    assert not (await handler.check(message, raw_state=None))[0]
    message.text = "A"
    assert not (await handler.check(message, raw_state=Form.name.state))[0]


async def test_the_staff_gate_lets_a_customer_through_exactly_what_the_refusal_answers() -> None:
    from aiogram.types import Message

    from handlers.staff import refusal
    from handlers.staff.access import STAFF_COMMANDS, MayBeForStaff

    chat = {"id": 7, "type": "private"}

    def message(text: str, file: bool = False) -> Message:
        body: dict[str, Any] = {"message_id": 1, "date": 0, "chat": chat}
        if file:
            body |= {"caption": text, "document": {"file_id": "f", "file_unique_id": "u"}}
        else:
            body["text"] = text
        return Message.model_validate(body)

    async def refused(event: Message) -> bool:
        for handler in refusal.router.message.handlers:
            if (await handler.check(event, t=None, bot=None))[0]:
                return True
        return False

    samples = [message(f"/{c}") for c in STAFF_COMMANDS] + [
        message(text)
        for text in (
            "/start",
            "/orders",
            "/points",
            "/points 50 @ann",
            "/points\n50",
            "/checkout now",
            "/queue 3",
            "/imports",
            "/Queue",
            "queue",
            "🛍 Catalog",
            "",
            "/",
            "/ queue",
            "<b>/queue</b>",
        )
    ]
    samples += [message("/import", file=True), message("/importing", file=True), message("/start", file=True)]
    gate = MayBeForStaff()
    for event in samples:
        assert await gate(event, role=None) == await refused(event), event.text or event.caption
    assert await gate(message("/queue@orderbot"), role=None)  # the refusal checks the mention itself
    assert await gate(message("/start"), role="staff")  # staff: everything goes to the staff routers


async def test_a_routers_gate_passes_exactly_the_presses_of_its_buttons() -> None:
    from aiogram.types import CallbackQuery

    from handlers.customer import catalog, fallback

    routers()
    routers()  # a second dispatcher: still one gate
    gates = [
        c.callback
        for c in catalog.router.callback_query._handler.filters or []
        if isinstance(c.callback, PressFor)
    ]
    assert len(gates) == 1
    assert not any(
        isinstance(c.callback, PressFor) for c in fallback.router.callback_query._handler.filters or []
    )
    gate_presses(fallback.router)  # a handler for any press: no gate
    assert not fallback.router.callback_query._handler.filters

    def press(data: str | None) -> CallbackQuery:
        user = {"id": 7, "is_bot": False, "first_name": "Ann"}
        return CallbackQuery.model_validate({"id": "1", "from": user, "chat_instance": "c", "data": data})

    gate = gates[0]
    assert await gate(press(CatalogCb(category=2).pack()))
    assert await gate(press(ProductCb(action=ProductAction.add, id=3).pack()))
    assert not await gate(press(CartCb(action=CartAction.checkout).pack()))  # the checkout's
    assert not await gate(press("zz:1"))
    assert not await gate(press(None))
