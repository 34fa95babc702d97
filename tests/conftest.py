"""Shared fixtures: a real sandbox server on a free port, and clients that talk to it over HTTP."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "123456:TEST-token_abc"
CONVERSATION_BURST = 30


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(tokens=[TOKEN]) as server:
        # Simulated users talk faster than people; rate-limit tests set their own limits.
        server.world.limits.private_burst = CONVERSATION_BURST
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as sandbox_client:
        yield sandbox_client


class BotApiCaller:
    """Calls the sandbox's Bot API as raw HTTP, to see exactly what Telegram-like answer comes back."""

    def __init__(self, base: str, session: aiohttp.ClientSession, token: str = TOKEN) -> None:
        self.base, self.session, self.token = base, session, token

    async def raw(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.base}/bot{self.token}/{method}", json=params) as response:
            return response.status, await response.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.raw(method, **params)
        assert status == 200 and body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self.raw(method, **params)
        assert not body["ok"] and status == body["error_code"], body
        return status, body["description"]


@pytest.fixture
async def tg(sandbox: SandboxServer) -> AsyncIterator[BotApiCaller]:
    async with aiohttp.ClientSession() as session:
        yield BotApiCaller(sandbox.url, session)


def python_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python process that imports this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


PYTHON = sys.executable
