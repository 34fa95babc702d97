"""Faults from outside: the database going away for a few seconds.

The database outage is real: the bot talks to PostgreSQL through a TCP proxy that this test cuts (open
connections dropped, new ones refused) and then restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import fresh_database_url
from tests.handlers.conftest import Shop, button_labels


class Proxy:
    """A TCP proxy to one server that can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.cut = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.break_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def break_connections(self) -> None:
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._pipes.discard(writer)


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    url = make_url(os.environ["TEST_DATABASE_URL"])
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def database_url(proxy: Proxy, tmp_path: Path) -> str:
    """The shop's database is PostgreSQL, reached only through the proxy."""
    real = make_url(await fresh_database_url("postgresql", tmp_path))
    return real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.mark.allow_bot_errors
async def test_the_database_away_for_a_few_seconds_gets_an_apology_then_service(
    shop: Shop, proxy: Proxy
) -> None:
    ann = await shop.started()
    await ann.send("/cart")
    await ann.wait_for(text="Your cart is empty")

    proxy.cut = True
    proxy.break_connections()
    await ann.send("/cart")
    sorry = await ann.wait_for(text="Sorry, something went wrong on our side", timeout=20)
    assert "Traceback" not in sorry["text"]
    await asyncio.sleep(2)

    proxy.cut = False
    await ann.send("/catalog")
    await ann.wait_for(text="Pick a category", timeout=20)
    await ann.press("Tea (7)")
    await ann.wait_for(text="products")
    await ann.press("Green tea · $4.50")
    await ann.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m))
    await ann.press("🛒 Add 1 to cart")
    await ann.send("/cart")
    cart = await ann.wait_for(text="Your cart")
    assert "Green tea" in cart["text"]
