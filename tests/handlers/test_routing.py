"""Routing: every filter runs on the event loop (handlers.run_filters_inline), and still filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup

from handlers import filters_of, routers, run_filters_inline


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
