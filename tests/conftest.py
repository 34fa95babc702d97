"""Shared fixtures: a real sandbox server on a free port, and clients that talk to it over HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

import handlers  # noqa: F401  before any test module: aiogram imported as the bot does (lean_types.py)
from sandbox import SandboxServer
from sandbox.client import SandboxClient
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.uow import UnitOfWork

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


# --- databases: a real SQLite file always; PostgreSQL too when TEST_DATABASE_URL is set ------------
def own_servers_per_worker() -> None:
    """Under pytest-xdist (``make test`` runs two test processes), each has a PostgreSQL database
    (``test_gw0``…, beside TEST_DATABASE_URL's; ``pytest_configure`` makes them) and a Redis database
    (the next numbers after TEST_REDIS_URL's) of its own: tests drop the schema and flush Redis as they
    start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    if url := os.environ.get("TEST_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = _worker_database(make_url(url), worker).render_as_string(
            hide_password=False
        )
    if url := os.environ.get("TEST_REDIS_URL"):
        parts = urlsplit(url)
        number = int(parts.path.strip("/") or 0) + 1 + int(worker.removeprefix("gw"))
        os.environ["TEST_REDIS_URL"] = urlunsplit(parts._replace(path=f"/{number}"))


def _worker_database(given: URL, worker: str) -> URL:
    return given.set(database=f"{given.database}_{worker}")


def pytest_configure(config: pytest.Config) -> None:
    """Before the test processes start: their PostgreSQL databases, made the first time."""
    processes = getattr(config.option, "numprocesses", None)  # pytest-xdist's -n, here a number
    url = os.environ.get("TEST_DATABASE_URL")
    if os.environ.get("PYTEST_XDIST_WORKER") or not processes or not url:
        return
    given = make_url(url)
    names = [str(_worker_database(given, f"gw{i}").database) for i in range(int(processes))]
    try:
        asyncio.run(_create_databases(given, names))
    except Exception as error:  # noqa: BLE001 - any reason is told, with the two ways on
        pytest.exit(
            f"tests: cannot make the PostgreSQL databases {', '.join(names)} ({error}). Let "
            "TEST_DATABASE_URL's user create databases, or run the tests in one process: "
            "make test PYTEST_WORKERS=0",
            returncode=4,
        )


async def _create_databases(server: URL, names: list[str]) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")  # CREATE DATABASE: no transaction
    try:
        async with engine.connect() as connection:
            for name in names:
                exists = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
                if not exists:
                    await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


own_servers_per_worker()
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


async def fresh_database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'orderbot-test.db'}"
    url = os.environ["TEST_DATABASE_URL"]
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return url


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return await fresh_database_url(request.param, tmp_path)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def uow(session_factory: async_sessionmaker[AsyncSession]) -> Any:
    """A factory: ``async with uow() as u: ...`` — a new unit of work each time, like each update."""
    return lambda: UnitOfWork(session_factory)


# --- a headless Chromium page (Debian's chromium; never a downloaded browser) -------------------------
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        await browser.close()
        assert not errors, errors
