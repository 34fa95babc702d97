"""Logging: JSON lines when not on a terminal (python-json-logger), readable lines on one; every line
carries the update id, the user id and the order number when they are known."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import IO, Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from shop.context import current_order

current_update: ContextVar[int | None] = ContextVar("current_update", default=None)
current_user: ContextVar[int | None] = ContextVar("current_user", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(where)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        known = {
            "update_id": current_update.get(),
            "user_id": current_user.get(),
            "order": current_order.get(),
        }
        for key, value in known.items():
            setattr(record, key, value)
        shown = [f"{key.removesuffix('_id')}={value}" for key, value in known.items() if value]
        record.where = f" [{' '.join(shown)}]" if shown else ""
        return True


def setup_logging(level: int = logging.INFO, json: bool | None = None, stream: IO[str] | None = None) -> None:
    """``json`` None: JSON unless the stream (stderr) is a terminal."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if json if json is not None else not stream.isatty():
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(update_id)s %(user_id)s %(order)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, "where"],
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it would log every tick of the clock
    # aiogram writes a line for every update handled ("Update id=... is handled"): the metrics count
    # them; at DEBUG they are shown.
    logging.getLogger("aiogram.event").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    # A tick skipped because the last one (a long send) is still running is by design, not news.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


class LogContextMiddleware(BaseMiddleware):
    """Outermost: the update and user ids for every log line written while the update is handled."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        tokens = (
            current_update.set(event.update_id if isinstance(event, Update) else None),
            current_user.set(user.id if user else None),
            current_order.set(None),
        )
        try:
            return await handler(event, data)
        finally:
            current_order.reset(tokens[2])
            current_user.reset(tokens[1])
            current_update.reset(tokens[0])
