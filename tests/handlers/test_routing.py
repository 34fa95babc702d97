"""Routing: every filter runs on the event loop (handlers.run_filters_inline), and still filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup

from handlers import filters_of, routers, run_filters_inline
from handlers.callbacks import CartAction, CartCb, CatalogCb, ProductAction, ProductCb
from handlers.gates import Gated, gates_of


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
    from handlers.staff.access import STAFF_COMMANDS, may_be_for_staff

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
    for event in samples:
        assert may_be_for_staff(event, {"role": None}) == await refused(event), event.text or event.caption
    assert may_be_for_staff(message("/queue@orderbot"), {})  # the refusal checks the mention itself
    assert may_be_for_staff(message("/start"), {"role": "staff"})  # staff: everything to the staff routers


async def test_a_routers_gate_passes_exactly_the_presses_of_its_buttons() -> None:
    from aiogram.types import CallbackQuery

    from handlers.customer import catalog, fallback

    [shop] = routers()
    assert isinstance(shop, Gated) and [r.name for r in shop.sub_routers][:2] == ["staff_tree", "start"]
    assert "callback_query" not in gates_of(fallback.router)  # a handler for any press: no gate
    gate = routers()[0].gates[catalog.router]["callback_query"]  # a second dispatcher: the same gate

    def press(data: str | None) -> CallbackQuery:
        user = {"id": 7, "is_bot": False, "first_name": "Ann"}
        return CallbackQuery.model_validate({"id": "1", "from": user, "chat_instance": "c", "data": data})

    assert gate(press(CatalogCb(category=2).pack()), {})
    assert gate(press(ProductCb(action=ProductAction.add, id=3).pack()), {})
    assert not gate(press(CartCb(action=CartAction.checkout).pack()), {})  # the checkout's
    assert not gate(press(None), {})


async def test_a_message_passes_every_gate_of_a_router_that_would_take_it() -> None:
    """Each customer router's message gate, checked against its filters: for every command the bot
    knows, every main-menu button, plain text, a contact and a photo, at every step of every
    conversation, a message one of the router's handlers would take passes its gate. And the gates
    keep most messages out of most routers (what they are for)."""
    from aiogram.filters import Command
    from aiogram.types import Message

    from handlers.answers import MENU_KEYS
    from handlers.render import Renderer
    from handlers.states import Broadcasting, Browsing, Checkout
    from shop.config import ShopConfig

    [shop] = routers()
    t = Renderer(ShopConfig(currency="USD")).texts("en")
    commands = {
        name
        for router in shop.chain_tail
        for check in filters_of(router)
        if isinstance(check.callback, Command)
        for name in check.callback.commands
        if isinstance(name, str)
    }
    user = {"id": 7, "is_bot": False, "first_name": "Ann"}
    base = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}, "from": user}
    texts = [f"/{c}" for c in commands] + [f"/{c}@shop_bot 2" for c in commands]
    texts += [t.label(key) for key in MENU_KEYS] + ["hello", "/nonsense", "12"]
    bodies: list[dict[str, Any]] = [{"text": text} for text in texts]
    bodies += [
        {"contact": {"phone_number": "+15551234567", "first_name": "Ann", "user_id": 7}},
        {"photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]},
        {"photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}], "caption": "/cart"},
    ]
    messages = [Message.model_validate(base | body) for body in bodies]
    states = [None, *Checkout.__all_states_names__, *Browsing.__all_states_names__]
    states += Broadcasting.__all_states_names__

    class Bot:  # what a mentioned command asks of the bot
        async def me(self) -> Any:
            return type("Me", (), {"username": "shop_bot"})()

    kept_out = tried = 0
    for router, gates in shop.gates.items():
        gate = gates.get("message")
        if gate is None or router.name == "staff_tree":
            continue
        observer = router.message
        for message in messages:
            for state in states:
                data = {"t": t, "raw_state": state, "role": None, "bot": Bot(), "event_from_user": None}
                tried += 1
                if gate(message, data):
                    continue
                kept_out += 1
                if not (await observer._handler.check(message, **data))[0]:
                    continue
                for handler in observer.handlers:
                    taken, _ = await handler.check(message, **data)
                    assert not taken, (router.name, handler.callback.__name__, message.text, state)
    assert kept_out > tried * 0.8, (kept_out, tried)
