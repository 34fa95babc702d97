"""An unmodified aiogram bot, in its own process, runs a whole conversation against the sandbox."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient
from tests.conftest import PYTHON, TOKEN, python_env

pytestmark = pytest.mark.process
TINY_BOT = Path(__file__).with_name("tiny_bot.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["polling", "webhook"])
async def running_bot(request: pytest.FixtureRequest, sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    env = python_env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=sandbox.url,
        MODE=request.param,
        WEBHOOK_PORT=str(free_port()),
        WEBHOOK_SECRET="tiny-secret",
    )
    process = await asyncio.create_subprocess_exec(
        PYTHON, str(TINY_BOT), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        try:
            if request.param == "webhook":
                for _ in range(200):
                    if any(b["webhook"] for b in await client.request("GET", "/sandbox/bots")):
                        break
                    await asyncio.sleep(0.05)
            yield client
        finally:
            process.terminate()
            _, stderr = await process.communicate()
            assert b"Traceback" not in stderr, stderr.decode()[-3000:]


async def test_conversation_with_text_buttons_contact_and_stars(running_bot: SandboxClient) -> None:
    client = running_bot
    ann = await client.create_user("Ann <script>", language_code="en")
    await ann.send("/start")
    menu = await ann.wait_for(text="Pick a drink", timeout=15)
    assert menu["text"] == "Hello, Ann <script>! Pick a drink:"
    assert menu["entities"] == [{"type": "bold", "offset": 7, "length": 12}]

    answer = await ann.press("Tea")
    assert answer["answered"] and answer["text"] == "Tea it is"
    edited = await ann.wait_for(text="You picked")
    assert edited["message_id"] == menu["message_id"] and "reply_markup" not in edited
    await ann.wait_for(text="Where do we call you?")

    await ann.press_reply("Share my phone")
    saved = await ann.wait_for(text="Phone saved")
    assert ann.phone_number in saved["text"]
    assert await ann.reply_keyboard() is None
    await ann.send_contact("+15550001", user_id=ann.id + 1)
    await ann.wait_for(text="That is not your contact.")

    await ann.send("Fish & <chips>")
    assert (await ann.wait_for(text="Fish"))["text"] == "Fish & <chips>"

    await ann.send("/pay")
    invoice = await ann.wait_for(lambda m: "invoice" in m)
    assert invoice["invoice"]["currency"] == "XTR" and invoice["invoice"]["total_amount"] == 25
    paid = await ann.pay(invoice["message_id"])
    assert paid["ok"], paid
    await ann.wait_for(text="Paid 25 ⭐")

    stats = await client.stats()
    assert stats["errors"] == 0, await client.calls()


@pytest.mark.parametrize("command", [["-m", "sandbox"], ["-m", "bot.cli", "sandbox"]])
async def test_sandbox_starts_from_the_command_line(command: list[str]) -> None:
    import aiohttp

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        *command,
        "--port",
        str(port),
        "--token",
        TOKEN,
        env=python_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/sandbox/bots") as response:
                        bots = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the sandbox did not start")
            assert [b["id"] for b in bots] == [123456]  # --token registers the bot up front
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert "Sandbox chat" in await response.text()
    finally:
        process.terminate()
        stdout, _ = await process.communicate()
    assert f"http://127.0.0.1:{port}/" in stdout.decode()
