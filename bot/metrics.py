"""Prometheus metrics (prometheus-client), one registry per process, served at /metrics in webhook mode."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "orderbot_updates_total", "Updates handled, by kind", ["kind"], registry=self.registry
        )
        self.latency = Histogram(
            "orderbot_handler_seconds",
            "Time to handle one update",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sent = Counter(
            "orderbot_messages_sent_total", "Outbox messages Telegram accepted", registry=self.registry
        )
        self.failed = Counter(
            "orderbot_messages_failed_total",
            "Outbox messages given up on",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "orderbot_telegram_429_total",
            "Times Telegram answered 429 Too Many Requests",
            registry=self.registry,
        )
        self.backlog = Gauge(
            "orderbot_outbox_backlog", "Outbox messages waiting to be sent", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware(BaseMiddleware):
    """Counts and times every update (outermost, so throttled and duplicate updates count too)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            kind = (event.event_type if isinstance(event, Update) else type(event).__name__) or "unknown"
            self.metrics.updates.labels(kind=kind).inc()
            self.metrics.latency.observe(time.perf_counter() - started)
