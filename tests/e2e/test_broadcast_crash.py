"""kill -9 in the middle of a broadcast: after a restart every recipient has the message, and a duplicate
is rare (at least once: a row sent but not yet marked when the process died goes again)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient, SimUser
from tests.conftest import TOKEN
from tests.e2e.test_orderbot_process import environment, orderbot

pytestmark = pytest.mark.process
RECIPIENTS = 90
NEWS = "Fresh scones & jam 🍰"
IN_FLIGHT = 32  # the sender's concurrent sends: the most that can be sent but not yet marked


async def copies(users: list[SimUser]) -> list[int]:
    counts = await asyncio.gather(*(u.bot_messages() for u in users))
    return [sum(1 for m in messages if m.get("text") == NEWS) for messages in counts]


async def start_bot(env: dict[str, str], tmp_path: Path, name: str) -> asyncio.subprocess.Process:
    log = (tmp_path / name).open("wb")
    return await asyncio.create_subprocess_exec(
        *orderbot("run"), env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=log
    )


async def test_kill_9_mid_broadcast_loses_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        owner = await client.create_user("Olga")
        env = {
            **environment(tmp_path, sandbox.url),
            "ADMIN_IDS": str(owner.id),
            "NOTIFY_PER_SECOND": "15",  # slow enough to be killed halfway
            "DIGEST_TIME": "",
            "NOTIFY_SEND_TIMEOUT": "3",  # what the dead worker had claimed is due again soon after
        }
        users = [await client.create_user(f"Guest{i}") for i in range(RECIPIENTS)]
        first = await start_bot(env, tmp_path, "bot1.log")
        try:
            await owner.send("/start")
            await owner.wait_for(text="Welcome", timeout=30)
            for user in users:
                await user.send("/start")
            for user in users:
                await user.wait_for(text="Welcome", timeout=60)
            with sqlite3.connect(tmp_path / "shop.db") as db:
                db.execute("update customers set marketing_opt_in = 1")
            await owner.send("/broadcast")
            await owner.wait_for(text="Send the message")
            await owner.send(NEWS)
            await owner.wait_for(text="Who should get it?")
            await owner.press("everyone opted in")
            await owner.wait_for(text=f"Send it to {RECIPIENTS + 1} customers")  # the owner opted in too
            await owner.press("📣 Send")
            for _ in range(300):
                if sum(await copies(users)) >= RECIPIENTS // 3:
                    break
                await asyncio.sleep(0.1)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        delivered_before = sum(1 for n in await copies(users) if n)
        assert 0 < delivered_before < RECIPIENTS, "the kill must land mid-broadcast"

        second = await start_bot(env, tmp_path, "bot2.log")
        try:
            done = await owner.wait_for(text="is done", timeout=60)
            assert f"sent: {RECIPIENTS + 1}" in done["text"], done["text"]
            received = await copies(users)
            assert all(1 <= n <= 2 for n in received), received  # everyone, at most one duplicate
            assert sum(received) - RECIPIENTS <= IN_FLIGHT
            print(f"delivered before the kill: {delivered_before}; duplicates: {sum(received) - RECIPIENTS}")
            with sqlite3.connect(tmp_path / "shop.db") as db:
                statuses = db.execute(
                    "select status, count(*) from outbox where kind = 'broadcast' group by 1"
                )
                assert dict(statuses.fetchall()) == {"sent": RECIPIENTS + 1}
        finally:
            second.terminate()
            await second.wait()
        log = (tmp_path / "bot2.log").read_text()
        assert "Traceback" not in log, log[-3000:]
