"""Webhook delivery: POST each update with the secret header; retry on non-2xx; keep order per chat.

Like Telegram, updates of one chat are delivered one at a time and in order, different chats in
parallel up to ``max_connections``, and a bot may answer a webhook with a method to call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp

from .state import BotState, Webhook, now

log = logging.getLogger("sandbox.webhook")


def update_chat_key(update: dict[str, Any]) -> int:
    """The chat (or user) an update belongs to, for per-chat ordering."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        if isinstance(payload.get("chat"), dict):
            return int(payload["chat"]["id"])
        message = payload.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return int(message["chat"]["id"])
        if isinstance(payload.get("from"), dict):
            return int(payload["from"]["id"])
    return 0


def start_delivery(api: Any, bot: BotState) -> None:
    if bot.webhook_task is not None:
        bot.webhook_task.cancel()
    assert bot.webhook is not None
    bot.webhook_task = asyncio.get_running_loop().create_task(_deliver_forever(api, bot, bot.webhook))


async def _deliver_forever(api: Any, bot: BotState, hook: Webhook) -> None:
    in_flight: set[int] = set()
    busy_chats: set[int] = set()
    tasks: set[asyncio.Task[None]] = set()
    try:
        while bot.webhook is hook:
            version = bot.update_changes.version
            picked = None
            if len(in_flight) < hook.max_connections:
                for update in bot.updates:
                    key = update_chat_key(update)
                    if update["update_id"] in in_flight or key in busy_chats:
                        continue
                    picked = update
                    break
            if picked is None:
                await bot.update_changes.wait_newer(version, 1.0)
                continue
            key = update_chat_key(picked)
            in_flight.add(picked["update_id"])
            busy_chats.add(key)
            task = asyncio.create_task(_post(api, bot, hook, picked, key, in_flight, busy_chats))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()


async def _post(
    api: Any,
    bot: BotState,
    hook: Webhook,
    update: dict[str, Any],
    key: int,
    in_flight: set[int],
    busy_chats: set[int],
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
    limits = api.world.limits
    error = None
    reply: dict[str, Any] | None = None
    try:
        timeout = aiohttp.ClientTimeout(total=limits.webhook_timeout_seconds)
        url = bot.webhook_target(hook.url)
        async with api.http.post(url, json=update, headers=headers, timeout=timeout) as response:
            if 200 <= response.status < 300:
                reply = await _read_reply(response)
            else:
                error = f"Wrong response from the webhook: {response.status} {response.reason}"
    except TimeoutError:
        error = "Read timeout expired"
    except aiohttp.ClientError as exc:
        error = f"Connection failed: {exc.__class__.__name__}"
    try:
        if error is None:
            with contextlib.suppress(ValueError):
                bot.updates.remove(update)
            if reply and reply.get("method"):
                name = str(reply.pop("method"))
                await api.call_and_record(bot, name, reply)
        else:
            hook.last_error_date = now()
            hook.last_error_message = error
            log.info("webhook delivery of update %s failed: %s", update["update_id"], error)
            await asyncio.sleep(limits.webhook_retry_seconds)
    finally:
        in_flight.discard(update["update_id"])
        busy_chats.discard(key)
        bot.update_changes.bump()


async def _read_reply(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """A bot may answer a webhook with a method call, as JSON or multipart form."""
    if response.content_type == "application/json":
        with contextlib.suppress(ValueError):
            body = json.loads(await response.text() or "null")
            return body if isinstance(body, dict) else None
    elif response.content_type == "multipart/form-data":
        reader = aiohttp.MultipartReader.from_response(response)
        fields: dict[str, Any] = {}
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name:
                fields[part.name] = await part.text()
        return fields
    return None
