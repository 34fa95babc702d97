"""The Bot API side of the sandbox: each rule is a case that a real bot bug would hit."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from sandbox.client import SandboxClient, SandboxError, SimUser
from tests.conftest import TOKEN, BotApiCaller


async def chatting_user(client: SandboxClient, name: str = "Ann") -> SimUser:
    """A user who has opened the chat (a bot cannot write first)."""
    user = await client.create_user(name)
    await user.send("/start")
    return user


def keyboard(rows: int, per_row: int, data: str = "x") -> dict:
    return {
        "inline_keyboard": [
            [{"text": f"b{r}{c}", "callback_data": data} for c in range(per_row)] for r in range(rows)
        ]
    }


# --- identity and transport ----------------------------------------------------------------------
async def test_get_me_and_unknown_method(tg: BotApiCaller) -> None:
    me = await tg.ok("getMe")
    assert me["id"] == 123456 and me["is_bot"] and me["username"]
    assert await tg.error("sendCarrierPigeon") == (404, "Not Found")


async def test_malformed_token_is_unauthorized(sandbox, tg: BotApiCaller) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}/botnot-a-token/getMe") as response,
    ):
        assert response.status == 401
        assert (await response.json())["description"] == "Unauthorized"


async def test_form_encoded_and_query_string_parameters(sandbox, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    async with aiohttp.ClientSession() as session:
        form = {
            "chat_id": str(ann.id),
            "text": "<b>hi</b>",
            "parse_mode": "HTML",
            "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}',
        }
        async with session.post(f"{sandbox.url}/bot{TOKEN}/sendMessage", data=form) as response:
            body = await response.json()
    assert body["ok"], body
    assert body["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"


# --- text, captions, entities --------------------------------------------------------------------
async def test_html_must_parse(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    status, description = await tg.error("sendMessage", chat_id=ann.id, text="2 < 3", parse_mode="HTML")
    assert status == 400 and description.startswith("Bad Request: can't parse entities")
    status, description = await tg.error(
        "sendMessage", chat_id=ann.id, text="Fish & chips", parse_mode="HTML"
    )
    assert "can't parse entities" in description
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="Fish &amp; chips", parse_mode="HTML")
    assert sent["text"] == "Fish & chips"
    # Without parse_mode the same characters are just text.
    assert (await tg.ok("sendMessage", chat_id=ann.id, text="2 < 3 & 4"))["text"] == "2 < 3 & 4"


async def test_text_length_counts_after_entities(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await tg.ok("sendMessage", chat_id=ann.id, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert await tg.error("sendMessage", chat_id=ann.id, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    assert await tg.error("sendMessage", chat_id=ann.id, text="   ") == (
        400,
        "Bad Request: message text is empty",
    )
    assert await tg.error("sendMessage", chat_id=ann.id, text="<b></b>", parse_mode="HTML") == (
        400,
        "Bad Request: message text is empty",
    )


async def test_caption_limit(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    photo = await ann.send_photo()
    file_id = photo["photo"][-1]["file_id"]
    await tg.ok("sendPhoto", chat_id=ann.id, photo=file_id, caption="c" * 1024)
    assert await tg.error("sendPhoto", chat_id=ann.id, photo=file_id, caption="c" * 1025) == (
        400,
        "Bad Request: message caption is too long",
    )


# --- keyboards ------------------------------------------------------------------------------------
async def test_callback_data_is_1_to_64_bytes(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await tg.ok("sendMessage", chat_id=ann.id, text="ok", reply_markup=keyboard(1, 1, "x" * 64))
    # Cyrillic is two bytes a letter: 33 letters are 66 bytes, the bug from interlumpen's shop bot.
    too_long = keyboard(1, 1, "п" * 33)
    assert await tg.error("sendMessage", chat_id=ann.id, text="no", reply_markup=too_long) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert await tg.error("sendMessage", chat_id=ann.id, text="no", reply_markup=keyboard(1, 1, "")) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )


async def test_keyboard_size_limits(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await tg.ok("sendMessage", chat_id=ann.id, text="ok", reply_markup=keyboard(12, 8))  # 96 buttons
    status, description = await tg.error(
        "sendMessage", chat_id=ann.id, text="no", reply_markup=keyboard(1, 9)
    )
    assert status == 400 and "too many buttons in a row" in description
    assert await tg.error("sendMessage", chat_id=ann.id, text="no", reply_markup=keyboard(13, 8)) == (
        400,
        "Bad Request: REPLY_MARKUP_TOO_LONG",
    )


async def test_button_needs_exactly_one_action(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    bad = {"inline_keyboard": [[{"text": "A"}]]}
    status, description = await tg.error("sendMessage", chat_id=ann.id, text="no", reply_markup=bad)
    assert "exactly one of the optional fields" in description
    bad_url = {"inline_keyboard": [[{"text": "A", "url": "not a url"}]]}
    assert await tg.error("sendMessage", chat_id=ann.id, text="no", reply_markup=bad_url) == (
        400,
        "Bad Request: BUTTON_URL_INVALID",
    )


async def test_reply_keyboard_is_shown_and_removed(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    markup = {
        "keyboard": [[{"text": "Share phone", "request_contact": True}], [{"text": "Help"}]],
        "resize_keyboard": True,
    }
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="Menu", reply_markup=markup)
    assert "reply_markup" not in sent  # reply keyboards are not part of the Message object
    assert (await ann.reply_keyboard())["keyboard"][1][0]["text"] == "Help"
    contact = await ann.press_reply("Share phone")
    assert contact["contact"]["user_id"] == ann.id
    await tg.ok("sendMessage", chat_id=ann.id, text="Bye", reply_markup={"remove_keyboard": True})
    assert await ann.reply_keyboard() is None


# --- editing and deleting -------------------------------------------------------------------------
async def test_edit_rules(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="Page 1", reply_markup=keyboard(1, 2))
    mid = sent["message_id"]
    status, description = await tg.error(
        "editMessageText", chat_id=ann.id, message_id=mid, text="Page 1", reply_markup=keyboard(1, 2)
    )
    assert status == 400 and description.startswith("Bad Request: message is not modified")
    # Same text, new keyboard: that is a modification.
    await tg.ok("editMessageText", chat_id=ann.id, message_id=mid, text="Page 1", reply_markup=keyboard(1, 3))
    assert await tg.error(
        "editMessageReplyMarkup", chat_id=ann.id, message_id=mid, reply_markup=keyboard(1, 3)
    ) == (
        400,
        "Bad Request: " + "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message",
    )
    # editMessageText without reply_markup removes the keyboard, as Telegram does.
    edited = await tg.ok("editMessageText", chat_id=ann.id, message_id=mid, text="Page 2")
    assert "reply_markup" not in edited and edited["edit_date"]
    assert "reply_markup" not in (await ann.messages())[-1]
    assert await tg.error("editMessageText", chat_id=ann.id, message_id=999, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    user_message = (await ann.messages())[0]
    assert await tg.error(
        "editMessageText", chat_id=ann.id, message_id=user_message["message_id"], text="x"
    ) == (400, "Bad Request: message can't be edited")


async def test_caption_edits_and_text_edits_do_not_mix(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    file_id = (await ann.send_photo())["photo"][0]["file_id"]
    photo = await tg.ok("sendPhoto", chat_id=ann.id, photo=file_id, caption="Tea")
    text = await tg.ok("sendMessage", chat_id=ann.id, text="Tea")
    await tg.ok(
        "editMessageCaption",
        chat_id=ann.id,
        message_id=photo["message_id"],
        caption="<i>Green</i> tea",
        parse_mode="HTML",
    )
    assert await tg.error("editMessageText", chat_id=ann.id, message_id=photo["message_id"], text="x") == (
        400,
        "Bad Request: there is no text in the message to edit",
    )
    assert await tg.error(
        "editMessageCaption", chat_id=ann.id, message_id=text["message_id"], caption="x"
    ) == (400, "Bad Request: there is no caption in the message to edit")


async def test_delete_message(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="temporary")
    assert await tg.ok("deleteMessage", chat_id=ann.id, message_id=sent["message_id"]) is True
    assert [m.get("text") for m in await ann.messages()] == ["/start"]
    assert await tg.error("deleteMessage", chat_id=ann.id, message_id=sent["message_id"]) == (
        400,
        "Bad Request: message to delete not found",
    )


# --- chats and users ------------------------------------------------------------------------------
async def test_chat_not_found_blocked_and_not_started(tg: BotApiCaller, client: SandboxClient) -> None:
    assert await tg.error("sendMessage", chat_id=424242, text="hi") == (400, "Bad Request: chat not found")
    silent = await client.create_user("Silent")
    assert await tg.error("sendMessage", chat_id=silent.id, text="hi") == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    ann = await chatting_user(client)
    await ann.block()
    assert await tg.error("sendMessage", chat_id=ann.id, text="hi") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    await ann.unblock()
    await tg.ok("sendMessage", chat_id=ann.id, text="welcome back")
    kinds = [next(k for k in u if k != "update_id") for u in await tg.ok("getUpdates")]
    assert kinds.count("my_chat_member") == 2


async def test_get_chat(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann", username="ann_shop")
    chat = await tg.ok("getChat", chat_id=ann.id)
    assert chat["type"] == "private" and chat["first_name"] == "Ann" and "accepted_gift_types" in chat
    assert (await tg.ok("getChat", chat_id="@ann_shop"))["id"] == ann.id
    assert await tg.error("getChat", chat_id=1) == (400, "Bad Request: chat not found")


async def test_chat_action_and_commands(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    assert await tg.ok("sendChatAction", chat_id=ann.id, action="typing") is True
    assert await tg.error("sendChatAction", chat_id=ann.id, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )
    commands = [{"command": "start", "description": "Start"}, {"command": "cart", "description": "Your cart"}]
    await tg.ok("setMyCommands", commands=commands)
    await tg.ok("setMyCommands", commands=[{"command": "start", "description": "Начать"}], language_code="ru")
    assert await tg.ok("getMyCommands") == commands
    assert (await tg.ok("getMyCommands", language_code="ru"))[0]["description"] == "Начать"
    assert await tg.error("setMyCommands", commands=[{"command": "Bad Command", "description": "x"}]) == (
        400,
        "Bad Request: BOT_COMMAND_INVALID",
    )


# --- updates --------------------------------------------------------------------------------------
async def test_get_updates_offset_limit_and_allowed_updates(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    for word in ("one", "two", "three"):
        await ann.send(word)
    first = await tg.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    rest = await tg.ok("getUpdates", offset=first[-1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert await tg.ok("getUpdates", offset=rest[-1]["update_id"] + 1) == []
    # allowed_updates is remembered: messages are no longer delivered.
    await tg.ok("getUpdates", offset=rest[-1]["update_id"] + 1, allowed_updates=["callback_query"])
    await ann.send("ignored")
    assert await tg.ok("getUpdates") == []


async def test_long_polling_waits_for_an_update(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    started = time.monotonic()
    poll = asyncio.create_task(tg.ok("getUpdates", timeout=5))
    await asyncio.sleep(0.2)
    await ann.send("hello")
    updates = await poll
    assert updates[0]["message"]["text"] == "hello"
    assert time.monotonic() - started < 4
    assert await tg.ok("getUpdates", offset=updates[0]["update_id"] + 1, timeout=0) == []


async def test_two_pollers_conflict(tg: BotApiCaller) -> None:
    first = asyncio.create_task(tg.raw("getUpdates", timeout=5))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(tg.raw("getUpdates", timeout=1))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200


async def test_stopping_does_not_wait_out_an_open_long_poll() -> None:
    """A bot process that stops leaves its getUpdates open at the sandbox; stopping the sandbox cuts
    it rather than wait its 20 s out (every test with a bot process of its own waited them)."""
    from sandbox import SandboxServer

    server = await SandboxServer(tokens=[TOKEN]).start()
    http = aiohttp.ClientSession()
    poll = asyncio.create_task(http.post(f"{server.url}/bot{TOKEN}/getUpdates", json={"timeout": 20}))
    await asyncio.sleep(0.2)
    try:
        await asyncio.wait_for(server.stop(), timeout=10)  # TimeoutError when it waits for the poll
    finally:
        poll.cancel()
        await http.close()


# --- callback queries -----------------------------------------------------------------------------
async def test_answer_callback_query_rules(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="Pick", reply_markup=keyboard(1, 1, "pick:1"))
    press = asyncio.create_task(ann.press("pick:1", wait=5))
    updates = []
    while not updates:
        updates = [u for u in await tg.ok("getUpdates", timeout=1) if "callback_query" in u]
    query = updates[0]["callback_query"]
    assert query["data"] == "pick:1" and query["message"]["message_id"] == sent["message_id"]
    assert await tg.ok("answerCallbackQuery", callback_query_id=query["id"], text="Added", show_alert=True)
    answer = await press
    assert answer["answered"] and answer["text"] == "Added" and answer["show_alert"] is True
    # Answering twice, or an id that never existed: Telegram's "query is too old".
    for query_id in (query["id"], "123"):
        status, description = await tg.error("answerCallbackQuery", callback_query_id=query_id)
        assert status == 400 and "query is too old" in description


async def test_stale_callback_query_is_refused(tg: BotApiCaller, client: SandboxClient) -> None:
    await client.set_limits(callback_answer_seconds=0.2)
    ann = await chatting_user(client)
    await tg.ok("sendMessage", chat_id=ann.id, text="Pick", reply_markup=keyboard(1, 1, "p"))
    answer = await ann.press("p", wait=0.3)
    assert answer["answered"] is False
    status, description = await tg.error("answerCallbackQuery", callback_query_id=answer["query_id"])
    assert "query is too old" in description


async def test_press_needs_a_button_that_is_there(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    sent = await tg.ok("sendMessage", chat_id=ann.id, text="Pick", reply_markup=keyboard(1, 1, "real"))
    with pytest.raises(SandboxError) as error:
        await ann.press_data(sent["message_id"], "forged")
    assert error.value.status == 400
    await tg.ok("deleteMessage", chat_id=ann.id, message_id=sent["message_id"])
    with pytest.raises(SandboxError) as error:
        await ann.press_data(sent["message_id"], "real")
    assert error.value.status == 404


async def test_a_person_can_format_what_they_write(client: SandboxClient) -> None:
    ann = await chatting_user(client)
    sent = await ann.send("Hi 👋 there", entities=[{"type": "bold", "offset": 6, "length": 5}])
    assert sent["entities"] == [{"type": "bold", "offset": 6, "length": 5}]  # 👋 is two UTF-16 units
    for wrong in (
        [{"type": "bold", "offset": 6, "length": 6}],  # past the end
        [{"type": "glitter", "offset": 0, "length": 2}],
        [{"type": "text_link", "offset": 0, "length": 2}],  # a link needs its url
        {"type": "bold"},
    ):
        with pytest.raises(SandboxError) as error:
            await ann.send("Hi 👋 there", entities=wrong)
        assert error.value.status == 400
    photo = await ann.send_photo("Look", caption_entities=[{"type": "italic", "offset": 0, "length": 4}])
    assert photo["caption_entities"] == [{"type": "italic", "offset": 0, "length": 4}]


# --- files ----------------------------------------------------------------------------------------
async def test_user_photo_can_be_downloaded(sandbox, tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    photo = await ann.send_photo("receipt #42")
    biggest = photo["photo"][-1]
    info = await tg.ok("getFile", file_id=biggest["file_id"])
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.url}/file/bot{TOKEN}/{info['file_path']}") as response,
    ):
        data = await response.read()
    assert response.status == 200 and data.startswith(b"\x89PNG") and len(data) == info["file_size"]
    assert await tg.error("getFile", file_id="nope") == (400, "Bad Request: invalid file_id")


async def test_upload_file_id_and_url(sandbox, client: SandboxClient) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.types import BufferedInputFile

    ann = await chatting_user(client)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))
    try:
        png = (await ann.send_photo())["photo"][0]
        uploaded = await bot.send_photo(ann.id, BufferedInputFile(b"%PDF-1.4 fake", "x.pdf"))
        by_id = await bot.send_photo(ann.id, png["file_id"])
        by_url = await bot.send_photo(ann.id, "https://example.com/tea.jpg")
        document = await bot.send_document(ann.id, BufferedInputFile(b"sku,name\n", "catalog.csv"))
        assert uploaded.photo and by_id.photo[0].file_id == png["file_id"] and by_url.photo
        assert document.document.file_name == "catalog.csv"
        with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
            await bot.send_photo(ann.id, "not-a-file-id")
    finally:
        await bot.session.close()


# --- rate limits and faults -----------------------------------------------------------------------
async def test_private_chat_rate_limit(tg: BotApiCaller, client: SandboxClient) -> None:
    await client.set_limits(private_per_second=1, private_burst=3)
    ann = await chatting_user(client)
    for i in range(3):
        await tg.ok("sendMessage", chat_id=ann.id, text=f"burst {i}")
    status, body = await tg.raw("sendMessage", chat_id=ann.id, text="one too many")
    assert status == 429 and body["parameters"]["retry_after"] >= 1
    assert body["description"].startswith("Too Many Requests: retry after")
    stats = await client.stats()
    assert stats["rate_limited"] == 1 and stats["sent"] == 3


async def test_group_and_global_rate_limits(tg: BotApiCaller, client: SandboxClient) -> None:
    await client.set_limits(group_per_minute=20, global_per_second=1000)
    ann = await chatting_user(client)
    group = await client.create_group("Staff", [ann])
    for i in range(20):
        await tg.ok("sendMessage", chat_id=group["id"], text=f"alert {i}")
    status, body = await tg.raw("sendMessage", chat_id=group["id"], text="alert 21")
    assert status == 429 and body["parameters"]["retry_after"] >= 1
    await client.set_limits(global_per_second=2, private_burst=10)
    await tg.ok("sendMessage", chat_id=ann.id, text="a")
    await tg.ok("sendMessage", chat_id=ann.id, text="b")
    assert (await tg.raw("sendMessage", chat_id=ann.id, text="c"))[0] == 429


async def test_injected_faults(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await client.add_fault("429", method="sendMessage", retry_after=7)
    await client.add_fault("500", method="sendMessage")
    await client.add_fault("403", chat_id=ann.id)
    status, body = await tg.raw("sendMessage", chat_id=ann.id, text="x")
    assert status == 429 and body["parameters"] == {"retry_after": 7}
    assert (await tg.raw("sendMessage", chat_id=ann.id, text="x"))[0] == 500
    assert await tg.error("sendChatAction", chat_id=ann.id, action="typing") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    await tg.ok("sendMessage", chat_id=ann.id, text="fine again")
    await client.add_fault("slow", method="getMe", delay=0.3)
    started = time.monotonic()
    await tg.ok("getMe")
    assert time.monotonic() - started >= 0.3


async def test_calls_log_and_stats(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await chatting_user(client)
    await tg.ok("sendMessage", chat_id=ann.id, text="logged")
    await tg.raw("sendMessage", chat_id=ann.id, text="<bad>", parse_mode="HTML")
    calls = await client.calls(method="sendMessage")
    assert calls[0]["ok"] and calls[0]["params"]["text"] == "logged"
    assert calls[1]["error"]["error_code"] == 400
    stats = await client.stats()
    assert stats["methods"]["sendMessage"] == 2 and stats["errors"] == 1 and stats["max_chat_rate"] >= 1


# --- groups ---------------------------------------------------------------------------------------
async def test_group_messages_and_membership(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    bob = await client.create_user("Bob")
    group = await client.create_group("Staff", [ann])
    assert group["id"] < 0
    await ann.send("/queue@sandbox_123456_bot", chat_id=group["id"])
    with pytest.raises(SandboxError):
        await bob.send("let me in", chat_id=group["id"])
    update = (await tg.ok("getUpdates"))[-1]["message"]
    assert update["chat"]["type"] == "group" and update["entities"][0]["type"] == "bot_command"
    await tg.ok("sendMessage", chat_id=group["id"], text="New order #1")
    assert [m["text"] for m in await client.group_messages(group["id"])][-1] == "New order #1"


async def test_long_user_text_is_split_like_telegram_apps_do(tg: BotApiCaller, client: SandboxClient) -> None:
    ann = await client.create_user("Ann")
    reply = await client.request("POST", f"/sandbox/users/{ann.id}/send", {"text": "é" * 5000})
    assert [len(m["text"]) for m in reply["messages"]] == [4096, 904]
    assert [len(u["message"]["text"]) for u in await tg.ok("getUpdates")] == [4096, 904]
