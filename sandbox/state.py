"""The sandbox's world: users, groups, bots, chats, files, limits, faults and what was called.

Everything is in memory and lives as long as the process; ``World.reset()`` empties it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BOT_API_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
)
# What a bot receives when it never said allowed_updates (as in Telegram).
DEFAULT_UPDATE_TYPES = frozenset(BOT_API_UPDATE_TYPES) - {"chat_member"}


def now() -> int:
    return int(time.time())


class Changes:
    """A version number with a way to wait for the next change (for long polls and SSE)."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait_newer(self, version: int, timeout: float) -> int:
        if self.version > version or timeout <= 0:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        return self.version


@dataclass
class UserRec:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str = ""

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class GroupRec:
    id: int
    title: str
    type: str = "group"
    members: set[int] = field(default_factory=set)

    def as_chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass
class ChatLog:
    """One chat as one bot sees it: its messages, the reply keyboard shown, whether it is open."""

    chat: dict[str, Any]
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)  # message_id -> payload, amount
    started: bool = False  # a private chat opens when the user first writes to the bot
    changes: Changes = field(default_factory=Changes)

    def add(self, content: dict[str, Any]) -> dict[str, Any]:
        """Store a new message; the returned dict is the stored one (edits change it in place)."""
        message = {"message_id": self.next_message_id, **content}
        self.next_message_id += 1
        self.messages[message["message_id"]] = message
        self.changes.bump()
        return message


@dataclass
class FileRec:
    file_id: str
    file_unique_id: str
    data: bytes | None
    url: str | None = None
    mime_type: str = "application/octet-stream"
    file_name: str | None = None
    width: int = 0
    height: int = 0

    @property
    def file_path(self) -> str:
        return f"files/{self.file_unique_id}/{self.file_name or 'file'}"


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class PendingAnswer:
    """A query (callback, pre-checkout, inline) waiting for the bot's answer."""

    kind: str
    created: float
    future: asyncio.Future[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Charge:
    user_id: int
    currency: str
    total_amount: int
    payload: str
    refunded: bool = False


class BotState:
    def __init__(self, token: str, username: str | None = None) -> None:
        self.token = token
        self.id = int(token.split(":", 1)[0])
        self.username = username or f"sandbox_{self.id}_bot"
        self.first_name = "Sandbox bot"
        self.updates: deque[dict[str, Any]] = deque()
        # Telegram's update ids are large and never reused; a sandbox restart must not reuse them either.
        self.next_update_id = int(time.time() * 100)
        self.update_changes = Changes()
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: Webhook | None = None
        self.webhook_task: asyncio.Task[None] | None = None
        # A load balancer in front of the webhook: when set, deliveries go to these in turn.
        self.webhook_targets: list[str] = []
        self.webhook_turn = 0
        self.poller: object | None = None
        self.chats: dict[int, ChatLog] = {}
        self.pending: dict[str, PendingAnswer] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.charges: dict[str, Charge] = {}
        self.blocked_by: set[int] = set()

    def webhook_target(self, url: str) -> str:
        """Where the next delivery goes: the webhook URL, or the next worker behind the balancer."""
        if not self.webhook_targets:
            return url
        self.webhook_turn += 1
        return self.webhook_targets[self.webhook_turn % len(self.webhook_targets)]

    def as_sender(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def as_user(self) -> dict[str, Any]:
        """What getMe answers."""
        return {
            **self.as_sender(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update unless the bot's allowed_updates exclude its kind."""
        if kind not in self.allowed_updates:
            return None
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self.update_changes.bump()
        return update


class TokenBucket:
    """Telegram-style limit: ``rate`` per second sustained, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        """Seconds until one message may pass (0 if now)."""
        current = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (current - self.stamp) * self.rate)
        self.stamp = current
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class Limits:
    """Rate limits and timeouts; defaults are Telegram's published ones."""

    enabled: bool = True
    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: float = 5.0
    group_per_minute: float = 20.0
    callback_answer_seconds: float = 15.0
    pre_checkout_seconds: float = 10.0
    webhook_retry_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(key)
            setattr(self, key, bool(value) if key == "enabled" else float(value))


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching calls fail this way."""

    kind: str  # "429" | "403" | "400" | "500" | "502" | "503" | "slow" | "timeout"
    method: str | None = None
    chat_id: int | None = None
    times: int = 1
    retry_after: int = 1
    delay: float = 1.0
    description: str | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times <= 0:
            return False
        if self.method and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


SENDING_METHODS = {
    "sendmessage",
    "sendphoto",
    "senddocument",
    "sendinvoice",
    "sendmediagroup",
    "copymessage",
    "forwardmessage",
    "sendlocation",
    "sendcontact",
}


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.rate_limited = 0
        self.errors = 0
        self.methods: dict[str, int] = {}
        self._per_chat: dict[int, deque[float]] = {}
        self._global: deque[float] = deque()
        self.max_chat_rate = 0
        self.max_global_rate = 0

    def record_sent(self, chat_id: int) -> None:
        current = time.monotonic()
        self.sent += 1
        window = self._per_chat.setdefault(chat_id, deque())
        for stamps in (window, self._global):
            stamps.append(current)
            while stamps and stamps[0] <= current - 1.0:
                stamps.popleft()
        self.max_chat_rate = max(self.max_chat_rate, len(window))
        self.max_global_rate = max(self.max_global_rate, len(self._global))

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "rate_limited": self.rate_limited,
            "errors": self.errors,
            "methods": dict(sorted(self.methods.items())),
            "max_chat_rate": self.max_chat_rate,
            "max_global_rate": self.max_global_rate,
        }


class World:
    def __init__(self, *, call_log_size: int = 10_000) -> None:
        self.call_log_size = call_log_size
        self.reset()

    def reset(self) -> None:
        for bot in getattr(self, "bots", {}).values():
            if bot.webhook_task:
                bot.webhook_task.cancel()
        self.users: dict[int, UserRec] = {}
        self.groups: dict[int, GroupRec] = {}
        self.bots: dict[int, BotState] = {}
        self.files: dict[str, FileRec] = {}
        self.limits = Limits()
        self.faults: list[Fault] = []
        self.stats = Stats()
        self.calls: deque[dict[str, Any]] = deque(maxlen=self.call_log_size)
        self.call_seq = itertools.count(1)
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._buckets: dict[tuple[int, str, int], TokenBucket] = {}

    # --- people and chats -------------------------------------------------------------------------
    def add_user(
        self,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> UserRec:
        """A simulated person; ``user_id`` chooses their id (one of the fixed people of a demo)."""
        if user_id is None:
            user_id = next(self._user_ids)
        user = UserRec(user_id, first_name, last_name, username, language_code, f"+1555{user_id % 10**7:07d}")
        self.users[user_id] = user
        return user

    def skip_user_ids(self, up_to: int) -> None:
        """New users get ids above ``up_to``: ids an earlier run gave out are not given again."""
        following = next(self._user_ids)
        self._user_ids = itertools.count(max(following, up_to + 1))

    def add_group(self, title: str, members: list[int], supergroup: bool = False) -> GroupRec:
        group_id = (
            -(1_000_000_000_000 + next(self._group_ids)) if supergroup else -next(self._group_ids) - 4_000
        )
        group = GroupRec(group_id, title, "supergroup" if supergroup else "group", set(members))
        self.groups[group_id] = group
        return group

    def bot(self, token: str) -> BotState:
        bot_id = int(token.split(":", 1)[0])
        bot = self.bots.get(bot_id)
        if bot is None or bot.token != token:
            bot = BotState(token)
            self.bots[bot_id] = bot
        return bot

    def default_bot(self, bot_id: int | None = None) -> BotState | None:
        if bot_id is not None:
            return self.bots.get(bot_id)
        return next(iter(self.bots.values()), None)

    def chat_log(self, bot: BotState, chat_id: int) -> ChatLog | None:
        log = bot.chats.get(chat_id)
        if log is not None:
            return log
        if chat_id in self.users:
            log = ChatLog(self.users[chat_id].as_chat())
        elif chat_id in self.groups:
            log = ChatLog(self.groups[chat_id].as_chat(), started=True)
        else:
            return None
        bot.chats[chat_id] = log
        return log

    def resolve_chat_id(self, value: Any) -> int | None:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            name = text[1:].lower()
            for user in self.users.values():
                if (user.username or "").lower() == name:
                    return user.id
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def next_query_id(self) -> str:
        return f"{next(self._query_ids)}{secrets.randbelow(10**6):06d}"

    # --- limits -----------------------------------------------------------------------------------
    def rate_limit_wait(self, bot: BotState, chat_id: int) -> int:
        """0 if a message may be sent now (and count it), else whole seconds to wait (≥ 1)."""
        if not self.limits.enabled:
            return 0
        limits = self.limits
        buckets = [self._bucket((bot.id, "global", 0), limits.global_per_second, limits.global_per_second)]
        if chat_id > 0:
            buckets.append(
                self._bucket((bot.id, "private", chat_id), limits.private_per_second, limits.private_burst)
            )
        else:
            per_second = limits.group_per_minute / 60.0
            buckets.append(self._bucket((bot.id, "group", chat_id), per_second, limits.group_per_minute))
        wait = max(bucket.wait_time() for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return 0

    def _bucket(self, key: tuple[int, str, int], rate: float, burst: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            bucket = self._buckets[key] = TokenBucket(rate, max(burst, 1.0))
        return bucket

    def take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, chat_id):
                fault.times -= 1
                return fault
        return None

    def log_call(self, bot_id: int, method: str, params: dict[str, Any], outcome: dict[str, Any]) -> None:
        self.calls.append(
            {
                "seq": next(self.call_seq),
                "time": time.time(),
                "bot_id": bot_id,
                "method": method,
                "params": params,
                **outcome,
            }
        )
