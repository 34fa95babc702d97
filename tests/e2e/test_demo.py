"""A first-time user's `make demo`: `orderbot demo` in an empty folder prints the web chat's address,
serves it, and a customer can shop the demo catalog at once."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from sandbox.client import SandboxClient
from tests.conftest import PYTHON, python_env
from tests.handlers.conftest import button_labels

pytestmark = pytest.mark.process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_orderbot_demo_from_an_empty_folder(tmp_path: Path) -> None:
    port = free_port()
    env = python_env(MEDIA_DIR=str(tmp_path / "media"))
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL"):
        env.pop(name, None)  # nothing configured: the demo needs no token
    log = (tmp_path / "demo.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *(PYTHON, "-m", "bot.cli", "demo", "--port", str(port)),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "web chat" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, f"the demo stopped: {(tmp_path / 'demo.log').read_text()[-3000:]}"
            banner += line.decode()
        url = f"http://127.0.0.1:{port}/"
        assert url in banner
        async with aiohttp.ClientSession() as http, http.get(url) as page:
            assert page.status == 200 and "<html" in (await page.text()).lower()

        async with SandboxClient(url) as client:
            await client.wait_for_bot()
            ann = await client.create_user("Ann")
            await ann.send("/start")
            await ann.wait_for(text="Welcome", timeout=20)
            await ann.press_reply("🛍 Catalog")
            categories = await ann.wait_for(text="Pick a category")
            assert "Coffee (6)" in button_labels(categories)
            await ann.press("Coffee (6)")
            await ann.wait_for(text="products")
            await ann.press("Espresso · $2.50")
            card = await ann.wait_for(lambda m: "photo" in m)  # the demo's generated product photos
            assert "Espresso" in card["caption"]
        assert (tmp_path / "orderbot-demo.db").exists()
    finally:
        process.terminate()
        await process.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "demo.log").read_text()
