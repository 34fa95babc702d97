"""Invoices and payments, inline mode, and webhook delivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from sandbox.client import SandboxClient, SandboxError
from tests.conftest import BotApiCaller
from tests.sandbox.test_bot_api import chatting_user

STARS = {
    "title": "Order #7",
    "description": "2 × Flat white",
    "payload": "order:7",
    "currency": "XTR",
    "prices": [{"label": "Total", "amount": 150}],
}


async def next_update(tg: BotApiCaller, kind: str) -> dict[str, Any]:
    for _ in range(50):
        for update in await tg.ok("getUpdates", timeout=1):
            await tg.ok("getUpdates", offset=update["update_id"] + 1)
            if kind in update:
                return update[kind]
    raise AssertionError(f"no {kind} update")


async def test_invoice_validation(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    cases = [
        ({"provider_token": "tok"}, "PAYMENT_PROVIDER_INVALID"),
        ({"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 2}]}, "STARS_INVOICE_INVALID"),
        ({"prices": [{"label": "a", "amount": 0}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"payload": "x" * 129}, "PAYLOAD_INVALID"),
        ({"title": "t" * 33}, "INVOICE_TITLE_INVALID"),
        ({"currency": "USD"}, "PAYMENT_PROVIDER_INVALID"),
        ({"reply_markup": {"inline_keyboard": [[{"text": "Hi", "callback_data": "x"}]]}}, "Pay button"),
    ]
    for change, fragment in cases:
        status, description = await tg.error("sendInvoice", chat_id=ann.id, **{**STARS, **change})
        assert status == 400 and fragment in description, (change, description)
    card = {**STARS, "currency": "EUR", "provider_token": "284685063:TEST:abc"}
    assert (await tg.ok("sendInvoice", chat_id=ann.id, **card))["invoice"]["total_amount"] == 150


async def test_stars_payment_and_refund(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await next_update(tg, "message")
    invoice = await tg.ok("sendInvoice", chat_id=ann.id, **STARS)
    assert invoice["invoice"] == {
        "title": "Order #7",
        "description": "2 × Flat white",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 150,
    }
    paying = asyncio.create_task(ann.pay(invoice["message_id"]))
    query = await next_update(tg, "pre_checkout_query")
    assert (query["invoice_payload"], query["total_amount"], query["currency"]) == ("order:7", 150, "XTR")
    await tg.ok("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True)
    result = await paying
    payment = result["message"]["successful_payment"]
    assert result["ok"] and payment["telegram_payment_charge_id"].startswith("stx")
    update = await next_update(tg, "message")
    assert update["successful_payment"] == payment
    with pytest.raises(SandboxError) as error:
        await ann.pay(invoice["message_id"])
    assert error.value.status == 409
    charge = payment["telegram_payment_charge_id"]
    assert await tg.ok("refundStarPayment", user_id=ann.id, telegram_payment_charge_id=charge) is True
    assert await tg.error("refundStarPayment", user_id=ann.id, telegram_payment_charge_id=charge) == (
        400,
        "Bad Request: CHARGE_ALREADY_REFUNDED",
    )
    assert await tg.error("refundStarPayment", user_id=ann.id, telegram_payment_charge_id="stx0") == (
        400,
        "Bad Request: CHARGE_NOT_FOUND",
    )


async def test_declined_and_unanswered_pre_checkout(tg: BotApiCaller, client: SandboxClient) -> None:
    await client.set_limits(pre_checkout_seconds=0.5)
    ann = await chatting_user(client)
    invoice = await tg.ok("sendInvoice", chat_id=ann.id, **STARS)
    paying = asyncio.create_task(ann.pay(invoice["message_id"]))
    query = await next_update(tg, "pre_checkout_query")
    await tg.ok(
        "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=False, error_message="Sold out, sorry"
    )
    assert await paying == {"ok": False, "error_message": "Sold out, sorry"}
    unanswered = await ann.pay(invoice["message_id"])
    assert unanswered["ok"] is False and "did not answer" in unanswered["error_message"]
    late = await next_update(tg, "pre_checkout_query")
    status, description = await tg.error("answerPreCheckoutQuery", pre_checkout_query_id=late["id"], ok=True)
    assert "query is too old" in description
    assert not [m for m in await ann.messages() if "successful_payment" in m]


async def test_inline_query(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    asking = asyncio.create_task(ann.inline("tea"))
    query = await next_update(tg, "inline_query")
    assert query["query"] == "tea"
    article = {
        "type": "article",
        "id": "p1",
        "title": "Green tea",
        "input_message_content": {"message_text": "<b>Green tea</b> 4.50", "parse_mode": "HTML"},
    }
    assert await tg.error("answerInlineQuery", inline_query_id=query["id"], results=[article, article]) == (
        400,
        "Bad Request: RESULT_ID_DUPLICATE",
    )
    broken = {**article, "id": "p2", "input_message_content": {"message_text": "a < b", "parse_mode": "HTML"}}
    status, description = await tg.error("answerInlineQuery", inline_query_id=query["id"], results=[broken])
    assert "can't parse entities" in description
    await tg.ok("answerInlineQuery", inline_query_id=query["id"], results=[article], next_offset="20")
    answer = await asking
    assert (
        answer["answered"] and answer["results"][0]["title"] == "Green tea" and answer["next_offset"] == "20"
    )


# --- webhook ----------------------------------------------------------------------------------------
class Receiver:
    """A webhook endpoint that fails the first N deliveries, then accepts."""

    def __init__(self, fail_first: int = 0, reply: dict[str, Any] | None = None) -> None:
        self.fail_first = fail_first
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self.attempts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        if self.attempts <= self.fail_first:
            return web.Response(status=500)
        self.received.append(await request.json())
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.json_response({})


async def serve(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_webhook_delivery_with_secret_and_retry(tg: BotApiCaller, client: SandboxClient) -> None:
    await client.set_limits(webhook_retry_seconds=0.1)
    receiver = Receiver(fail_first=2)
    runner, url = await serve(receiver)
    try:
        ann = await client.create_user("Ann")
        await ann.send("before the webhook")  # pending updates are kept and delivered later
        assert await tg.ok("setWebhook", url=url, secret_token="s3cret-token")
        status, description = await tg.error("getUpdates")
        assert status == 409 and "webhook is active" in description
        await ann.send("after")
        await wait_until(lambda: len(receiver.received) == 2)
        assert [u["message"]["text"] for u in receiver.received] == ["before the webhook", "after"]
        assert set(receiver.secrets) == {"s3cret-token"} and receiver.attempts == 4
        info = await tg.ok("getWebhookInfo")
        assert info["url"] == url and info["pending_update_count"] == 0
        assert "500" in info["last_error_message"]
        await tg.ok("deleteWebhook")
        assert (await tg.ok("getWebhookInfo"))["url"] == ""
        await ann.send("polling again")
        assert (await tg.ok("getUpdates"))[-1]["message"]["text"] == "polling again"
    finally:
        await runner.cleanup()


async def test_webhook_reply_may_call_a_method(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    receiver = Receiver(reply={"method": "sendMessage", "chat_id": ann.id, "text": "answered in the reply"})
    runner, url = await serve(receiver)
    try:
        await tg.ok("setWebhook", url=url)
        reply = await ann.send("hi")
        assert reply["text"] == "hi"
        found = await ann.wait_for(text="answered in the reply", timeout=5)
        assert found["from"]["is_bot"]
    finally:
        await runner.cleanup()


async def test_bad_webhook_settings(tg: BotApiCaller) -> None:
    assert (await tg.error("setWebhook", url="ftp://x"))[0] == 400
    assert await tg.error("setWebhook", url="https://bot.example/hook", secret_token="has spaces") == (
        400,
        "Bad Request: secret token contains unallowed characters",
    )
