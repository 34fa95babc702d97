"""A first-time user's `make demo`: `orderbot demo` in an empty folder prints the web chat's address,
serves it, and a customer can shop the demo catalog at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox.client import SandboxClient, SimUser
from tests.conftest import PYTHON, python_env
from tests.handlers.conftest import button_labels
from tests.handlers.test_checkout_orders import checkout_to_summary

pytestmark = pytest.mark.process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def running_demo(folder: Path, port: int) -> AsyncIterator[SandboxClient]:
    """``orderbot demo`` in ``folder``, as a first-time user starts it; its web chat's client."""
    env = python_env(MEDIA_DIR=str(folder / "media"))
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL"):
        env.pop(name, None)  # nothing configured: the demo needs no token
    log = (folder / "demo.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        *(PYTHON, "-m", "bot.cli", "demo", "--port", str(port)),
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "Ctrl+C" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, f"the demo stopped: {(folder / 'demo.log').read_text()[-3000:]}"
            banner += line.decode()
        url = f"http://127.0.0.1:{port}/"
        assert url in banner and "Olga (owner)" in banner
        async with aiohttp.ClientSession() as http, http.get(url) as page:
            assert page.status == 200 and "<html" in (await page.text()).lower()
        async with SandboxClient(url) as client:
            await client.wait_for_bot()
            yield client
    finally:
        process.terminate()
        await process.wait()
        log.close()
    said = (folder / "demo.log").read_text()
    assert "Traceback" not in said and "INFO" not in said, said[-3000:]  # the banner is the last word


async def test_orderbot_demo_from_an_empty_folder(tmp_path: Path) -> None:
    async with running_demo(tmp_path, free_port()) as client:
        ann = await client.create_user("Ann")
        await ann.send("/start")
        welcome = await ann.wait_for(text="Welcome to Corner Café", timeout=20)
        assert "🕗 Open every day 8:00–20:00." in welcome["text"]  # what the shop is, under the welcome
        await ann.press_reply("🛍 Catalog")
        categories = await ann.wait_for(text="Pick a category")
        assert "Coffee (12)" in button_labels(categories)
        await ann.press("Coffee (12)")
        await ann.wait_for(text="products")
        await ann.press("Espresso · $2.50")
        card = await ann.wait_for(lambda m: "photo" in m)  # the demo's generated product photos
        assert "Espresso" in card["caption"]
        await demo_staff_see_the_shop(client, ann)
    assert (tmp_path / "orderbot-demo.db").exists()


async def demo_staff_see_the_shop(client: SandboxClient, ann: SimUser) -> None:
    """The demo's owner and employee are in the web chat's list; a demo order reaches the owner, with the
    demo shop's bank details; the employee is staff."""
    users = {u["first_name"]: u for u in await client.request("GET", "/sandbox/users")}
    owner, employee = (SimUser(client, users[name]) for name in ("Olga (owner)", "Eddie (employee)"))
    await ann.press("🛒 Add 1 to cart")
    await checkout_to_summary(ann, delivery=False, notes=None)
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed", timeout=20)
    assert "Demo Bank" in placed["text"]
    await owner.wait_for(text="New order", timeout=20)
    await owner.send("/queue")
    await owner.wait_for(text="Orders that need action")
    await employee.send("/queue")
    await employee.wait_for(text="Orders that need action")


async def test_a_restarted_demo_gives_a_new_customer_a_new_id(tmp_path: Path) -> None:
    """The sandbox forgets its people on a restart, the shop does not: a new web-chat user must not get
    an earlier customer's id (and with it their orders, phone and address)."""
    ids = []
    for _ in range(2):
        port = free_port()
        async with running_demo(tmp_path, port) as client:
            user = await client.create_user("Someone")
            await user.send("/start")
            await user.wait_for(text="Welcome", timeout=20)
            ids.append(user.id)
    assert ids[1] > ids[0]
