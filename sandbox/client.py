"""A Python client for the sandbox's /sandbox/ API, so tests read like a conversation.

async with SandboxClient(url) as sandbox:
    ann = await sandbox.create_user("Ann")
    await ann.send("/start")
    greeting = await ann.wait_for(text="Welcome")
    await ann.press("Catalog")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


class SandboxError(Exception):
    """The sandbox refused a simulated user's action (no such button, not an invoice, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def message_text(message: Message) -> str:
    """What a person reads: the text, or the caption, or the invoice title."""
    if "text" in message:
        return str(message["text"])
    if "caption" in message:
        return str(message["caption"])
    if "invoice" in message:
        return f"{message['invoice']['title']}\n{message['invoice']['description']}"
    return ""


def buttons(message: Message) -> list[dict[str, Any]]:
    """The inline buttons of a message, row by row flattened."""
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


class SandboxClient:
    def __init__(self, base_url: str, bot_id: int | None = None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.bot_id = bot_id
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def request(
        self, verb: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        if self.bot_id is not None:
            query.setdefault("bot_id", str(self.bot_id))
        async with self.session.request(verb, self.base_url + path, json=body, params=query) as response:
            text = await response.text()
            data = json.loads(text) if text else None
            if response.status >= 400:
                error = data.get("error") if isinstance(data, dict) else text
                raise SandboxError(response.status, str(error))
            return data

    # --- world ---------------------------------------------------------------------------------------
    async def register_bot(self, token: str, username: str | None = None) -> dict[str, Any]:
        bot = await self.request("POST", "/sandbox/bots", {"token": token, "username": username})
        self.bot_id = self.bot_id or bot["id"]
        return bot

    async def create_user(
        self, first_name: str, username: str | None = None, language_code: str | None = "en", **extra: Any
    ) -> SimUser:
        body = {"first_name": first_name, "username": username, "language_code": language_code, **extra}
        return SimUser(self, await self.request("POST", "/sandbox/users", body))

    async def create_group(self, title: str, members: list[SimUser | int]) -> dict[str, Any]:
        ids = [m.id if isinstance(m, SimUser) else m for m in members]
        return await self.request("POST", "/sandbox/groups", {"title": title, "members": ids})

    async def group_messages(self, chat_id: int) -> list[Message]:
        return await self.request("GET", f"/sandbox/groups/{chat_id}/messages")

    async def calls(self, method: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return await self.request("GET", "/sandbox/calls", params={"method": method, "since": since})

    async def stats(self) -> dict[str, Any]:
        return await self.request("GET", "/sandbox/stats")

    async def set_webhook_targets(self, urls: list[str]) -> dict[str, Any]:
        """Deliver webhook updates round-robin to these URLs (several workers behind a balancer)."""
        return await self.request("POST", "/sandbox/webhook/targets", {"urls": urls})

    async def set_limits(self, **limits: Any) -> dict[str, Any]:
        return await self.request("POST", "/sandbox/limits", limits)

    async def add_fault(
        self,
        kind: str,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {"kind": kind, "method": method, "chat_id": chat_id, "times": times, **extra}
        return await self.request("POST", "/sandbox/faults", body)

    async def clear_faults(self) -> None:
        await self.request("DELETE", "/sandbox/faults")

    async def reset(self, keep_bots: bool = True) -> None:
        await self.request("POST", "/sandbox/reset", {"keep_bots": keep_bots})

    async def wait_for_bot(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a bot has connected (called the Bot API) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            bots = await self.request("GET", "/sandbox/bots")
            if bots:
                self.bot_id = self.bot_id or bots[0]["id"]
                return next(b for b in bots if b["id"] == self.bot_id)
            if time.monotonic() > deadline:
                raise TimeoutError("no bot connected to the sandbox")
            await asyncio.sleep(0.05)


class SimUser:
    """One simulated Telegram user talking to the bot in a private chat (or a group)."""

    def __init__(self, client: SandboxClient, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id: int = data["id"]
        self.first_name: str = data["first_name"]
        self.phone_number: str = data.get("phone_number", "")
        self._seen: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"SimUser({self.id}, {self.first_name!r})"

    def _path(self, action: str) -> str:
        return f"/sandbox/users/{self.id}/{action}"

    async def _mark(self, chat_id: int | None = None) -> None:
        """Remember the chat as it is, so ``wait_for`` sees only what comes after."""
        self._seen = {m["message_id"]: json.dumps(m, sort_keys=True) for m in await self.messages(chat_id)}

    # --- acting --------------------------------------------------------------------------------------
    async def send(self, text: str, *, chat_id: int | None = None, **extra: Any) -> Message:
        await self._mark(chat_id)
        reply = await self.client.request(
            "POST", self._path("send"), {"text": text, "chat_id": chat_id, **extra}
        )
        return reply["message"]

    async def send_contact(
        self, phone_number: str | None = None, *, user_id: int | None = None, first_name: str | None = None
    ) -> Message:
        contact = {
            "phone_number": phone_number or self.phone_number,
            "user_id": user_id or self.id,
            "first_name": first_name or self.first_name,
        }
        await self._mark()
        return (await self.client.request("POST", self._path("send"), {"contact": contact}))["message"]

    async def send_photo(
        self,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> Message:
        await self._mark(chat_id)
        body = {"photo": {"caption": caption, "caption_entities": caption_entities}, "chat_id": chat_id}
        return (await self.client.request("POST", self._path("send"), body))["message"]

    async def send_location(self, latitude: float, longitude: float) -> Message:
        await self._mark()
        body = {"location": {"latitude": latitude, "longitude": longitude}}
        return (await self.client.request("POST", self._path("send"), body))["message"]

    async def send_document(
        self, file_name: str, content: str, *, caption: str | None = None, chat_id: int | None = None
    ) -> Message:
        await self._mark(chat_id)
        body = {
            "document": {"file_name": file_name, "content": content, "caption": caption},
            "chat_id": chat_id,
        }
        return (await self.client.request("POST", self._path("send"), body))["message"]

    async def press(
        self,
        label_or_data: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Press an inline button by its label or callback data, on the newest message that has it."""
        messages = await self.messages(chat_id)
        candidates = [m for m in messages if message_id is None or m["message_id"] == message_id]
        for message in reversed(candidates):
            for button in buttons(message):
                if (
                    label_or_data in (button.get("text"), button.get("callback_data"))
                    and "callback_data" in button
                ):
                    self._seen = {m["message_id"]: json.dumps(m, sort_keys=True) for m in messages}
                    body = {
                        "message_id": message["message_id"],
                        "data": button["callback_data"],
                        "chat_id": chat_id,
                        "wait": wait,
                    }
                    return await self.client.request("POST", self._path("press"), body)
        raise SandboxError(404, f"no inline button {label_or_data!r} in the chat")

    async def press_data(
        self, message_id: int, data: str, *, chat_id: int | None = None, wait: float | None = None
    ) -> dict[str, Any]:
        """Press with raw callback data (a tampered or stale button, as a test needs)."""
        await self._mark(chat_id)
        body = {"message_id": message_id, "data": data, "chat_id": chat_id, "wait": wait}
        return await self.client.request("POST", self._path("press"), body)

    async def reply_keyboard(self) -> dict[str, Any] | None:
        return (await self.client.request("GET", self._path("chat")))["reply_keyboard"]

    async def press_reply(self, label: str) -> Message:
        """Tap a reply-keyboard button: sends its text, or the contact if it asks for one."""
        keyboard = await self.reply_keyboard()
        for row in (keyboard or {}).get("keyboard", []):
            for raw in row:
                button = {"text": raw} if isinstance(raw, str) else raw
                if button.get("text") == label:
                    if button.get("request_contact"):
                        return await self.send_contact()
                    return await self.send(label)
        raise SandboxError(404, f"no reply-keyboard button {label!r}")

    async def pay(self, message_id: int | None = None) -> dict[str, Any]:
        """Pay an invoice (the newest one by default): pre-checkout, then successful_payment."""
        if message_id is None:
            invoices = [m for m in await self.messages() if "invoice" in m]
            if not invoices:
                raise SandboxError(404, "no invoice in the chat")
            message_id = invoices[-1]["message_id"]
        await self._mark()
        return await self.client.request("POST", self._path("pay"), {"message_id": message_id})

    async def inline(self, query: str, offset: str = "") -> dict[str, Any]:
        return await self.client.request("POST", self._path("inline"), {"query": query, "offset": offset})

    async def block(self) -> None:
        await self.client.request("POST", self._path("block"))

    async def unblock(self) -> None:
        await self.client.request("POST", self._path("unblock"))

    # --- reading -------------------------------------------------------------------------------------
    async def messages(self, chat_id: int | None = None) -> list[Message]:
        return await self.client.request("GET", self._path("messages"), params={"chat_id": chat_id})

    async def bot_messages(self, chat_id: int | None = None) -> list[Message]:
        return [m for m in await self.messages(chat_id) if m.get("from", {}).get("is_bot")]

    async def last(self) -> Message:
        messages = await self.bot_messages()
        if not messages:
            raise SandboxError(404, "the bot has not written yet")
        return messages[-1]

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        *,
        text: str | None = None,
        timeout: float = 10.0,
        chat_id: int | None = None,
    ) -> Message:
        """The first bot message, new or edited since this user's last action, that matches."""

        def matches(message: Message) -> bool:
            if not message.get("from", {}).get("is_bot"):
                return False
            if self._seen.get(message["message_id"]) == json.dumps(message, sort_keys=True):
                return False
            if text is not None and text not in message_text(message):
                return False
            return predicate is None or predicate(message)

        deadline = time.monotonic() + timeout
        version = -1
        path = self._path("messages")
        while True:
            wait = max(0.0, min(5.0, deadline - time.monotonic()))
            query = {"version": str(version), "wait": str(wait)}
            if chat_id is not None:
                query["chat_id"] = str(chat_id)
            if self.client.bot_id is not None:
                query["bot_id"] = str(self.client.bot_id)
            async with self.client.session.get(self.client.base_url + path, params=query) as response:
                if response.status >= 400:
                    raise SandboxError(response.status, await response.text())
                version = int(response.headers.get("X-Sandbox-Version", version))
                messages = await response.json()
            found = [m for m in messages if matches(m)]
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                shown = [message_text(m)[:80] for m in messages[-5:]]
                raise TimeoutError(f"{self!r}: no matching bot message in {timeout}s; last messages: {shown}")
