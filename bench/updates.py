"""Updates per second and response latency: simulated customers against one ``orderbot run`` process.

Each simulated customer goes through a realistic visit again and again — /start, the catalog, a
category, a product card (a photo), add to cart, the cart, the whole checkout (pickup, phone by the
contact button, no notes, bank transfer, place order) and /orders — 13 updates, 6 messages and 7 button
presses. The same run measures a bare aiogram echo bot (``bench.echo_bot``) doing the same sequence of
messages and presses against the same sandbox: the ceiling for this machine, sandbox and aiogram.

Before the phases, each customer takes an untimed share of a visit (customer i its first i mod 13
steps), so the phases measure every step of the visit about equally often; a phase that ended
everyone's visit at /start would measure mostly browsing (in 15 s each customer takes only a few steps).
Each customer goes on where the last phase left them.

Two phases per bot, each with the same number of customers:
- ``saturated``: nobody waits between steps, so the bot is always busy: updates/s is its capacity and
  ``ratio = ours / bare``. Every bot is started first and all run side by side; they take ``rounds``
  saturated rounds in turn (bare, ours, bare, ours...), so a slow spell of a shared machine falls on
  both, and ``ratio`` is the median of the rounds' own ratios (``ratio_by_round``);
- ``paced``: each customer waits between steps as people do (``think``, 2–8 s by default: reading a
  card, typing an address): the latency a customer feels. The offered load is printed with it.

Latency is measured where a customer sees it: from sending the update to the sandbox until the bot's
expected reply is there (for a press: the callback answered and the message shown). It includes the
polling round trip, so it is an upper bound on handler time. The bot runs as its own process; the
sandbox and the customers share this one. CPU seconds of the bot process are read from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import io
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.demo import demo_csv, draw_photos
from sandbox import SandboxServer
from sandbox.actions import ActionError, Actions
from sandbox.server import ACTIONS
from sandbox.state import BotState, ChatLog, UserRec
from shop.catalog import import_products_csv
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.uow import UnitOfWork

from .profile import recorder, shares

TOKEN = "434343:BENCH"
STEP_TIMEOUT = 15.0
CATEGORIES = ("Coffee", "Tea", "Bakery", "Breakfast", "Drinks")


@dataclass(frozen=True)
class Step:
    kind: str  # send | contact | press
    what: str  # the text to send, or (part of) the label of the button to press
    expect: str | None  # text that shows the reply arrived; None: a press answered with a toast only


def visit(category: str) -> list[Step]:
    """One customer's visit to the shop, from /start to the order placed."""
    return [
        Step("send", "/start", "Welcome"),
        Step("send", "🛍 Catalog", "Pick a category"),
        Step("press", f"{category} (", "products"),
        Step("press", " · $", "Add 1 to cart"),
        Step("press", "🛒 Add 1 to cart", None),
        Step("send", "🛒 Cart", "Your cart"),
        Step("press", "✅ Checkout", "How would you like"),
        Step("press", "🏪 Pickup", "What phone number"),
        Step("contact", "", "Anything we should know"),
        Step("press", "No notes →", "How will you pay"),
        Step("press", "🏦 Bank transfer", "Is everything right"),
        Step("press", "✅ Place order", "is placed"),
        Step("send", "/orders", "Your orders"),
    ]


def echo_visit(category: str) -> list[Step]:
    """The same messages and presses, as the echo bot answers them."""
    steps = []
    for step in visit(category):
        if step.kind == "send":
            steps.append(Step("send", step.what, step.what))
        elif step.kind == "contact":
            steps.append(Step("contact", "", "got it"))
        else:
            steps.append(Step("press", "again", "pressed" if step.expect else None))
    return steps


def _shown(message: dict[str, Any]) -> str:
    labels = [
        b.get("text", "")
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    return "\n".join([str(message.get("text") or message.get("caption") or ""), *labels])


class Customer:
    """A simulated customer driving the sandbox in-process (no HTTP on this side, to stay cheap)."""

    def __init__(self, actions: Actions, bot: BotState, user: UserRec) -> None:
        self.actions, self.bot, self.user = actions, bot, user
        self.visits = 0  # visits finished; each visit browses the next category
        self.position = 0  # the next step of the current visit
        log = actions.world.chat_log(bot, user.id)
        assert log is not None
        self.log: ChatLog = log

    def _snapshot(self) -> tuple[int, dict[int, str]]:
        recent = list(self.log.messages.values())[-3:]
        return self.log.next_message_id, {m["message_id"]: _shown(m) for m in recent}

    def _arrived(self, snapshot: tuple[int, dict[int, str]], expect: str) -> bool:
        first_new, before = snapshot
        for message in list(self.log.messages.values())[-4:]:
            if not message.get("from", {}).get("is_bot"):
                continue
            mid = message["message_id"]
            shown = _shown(message)
            if (mid >= first_new or before.get(mid, shown) != shown) and expect in shown:
                return True
        return False

    async def _wait(self, snapshot: tuple[int, dict[int, str]], expect: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            version = self.log.changes.version
            if self._arrived(snapshot, expect):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {expect!r} within {STEP_TIMEOUT}s")
            await self.log.changes.wait_newer(version, remaining)

    def _button(self, label: str) -> tuple[int, str]:
        for message in reversed(list(self.log.messages.values())):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button.get("text", "") and "callback_data" in button:
                        return message["message_id"], button["callback_data"]
        raise ActionError(404, f"no button {label!r}")

    async def do(self, step: Step) -> float:
        """Take one step and wait for its reply; the seconds it took."""
        started = time.monotonic()
        snapshot = self._snapshot()
        if step.kind == "press":
            message_id, data = self._button(step.what)
            answer = self.actions.press(self.bot, self.user, {"message_id": message_id, "data": data})
            waits: list[Any] = [answer]
            if step.expect is not None:
                waits.append(self._wait(snapshot, step.expect))
            results = await asyncio.gather(*waits)
            if not results[0].get("answered"):
                raise TimeoutError(f"press {step.what!r} was not answered")
        else:
            body: dict[str, Any] = {"text": step.what}
            if step.kind == "contact":
                contact = {"phone_number": self.user.phone_number, "user_id": self.user.id, "first_name": "B"}
                body = {"contact": contact}
            self.actions.send(self.bot, self.user, body)
            assert step.expect is not None
            await self._wait(snapshot, step.expect)
        return time.monotonic() - started


@dataclass(frozen=True)
class Load:
    customers: int = 200
    saturated_seconds: float = 12.0  # each round
    rounds: int = 3  # saturated rounds, taken by every bot in turn
    paced_seconds: float = 40.0
    think: tuple[float, float] = (2.0, 8.0)  # seconds a customer takes between two steps (paced phase)


@dataclass
class Phase:
    """One phase of one bot, measured in one or more rounds; the figures cover every round."""

    name: str
    started: float = 0.0
    ends: float = 0.0
    warmup: float = 1.0
    latencies: list[float] = field(default_factory=list)  # updates begun and answered inside the window
    completed: int = 0  # updates answered inside the window, whenever they began: the throughput
    errors: list[str] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    per_position: dict[int, int] = field(default_factory=dict)  # updates measured at each step of the visit
    window: float = 0.0  # seconds measured, after each round's warm-up
    cpu_seconds: float = 0.0  # the bot's, over the same seconds
    api_calls: int = 0
    rounds: list[float] = field(default_factory=list)  # updates/s of each round

    def begin(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.ends = self.started + seconds
        self.warmup = min(3.0, seconds / 4)

    def end(self, done_before: int, cpu_seconds: float, api_calls: int) -> None:
        window = self.ends - self.started - self.warmup
        self.window += window
        self.cpu_seconds += cpu_seconds
        self.api_calls += api_calls
        self.rounds.append(round((self.completed - done_before) / window, 1))

    def record(self, step: Step, began: float, seconds: float, position: int = 0) -> None:
        """Every answer inside the window counts for the rate; one begun before it only there. A customer
        has one update in hand at a time, so counting only updates begun inside the window too would
        leave out about one update per customer and round — for a bot at a few steps per customer in
        a round, a quarter or more of what it did (the bare bot, at dozens, lost a few per cent)."""
        window_opens = self.started + self.warmup
        if not window_opens <= began + seconds <= self.ends:
            return
        self.completed += 1
        if began >= window_opens:
            self.latencies.append(seconds)
            self.per_position[position] = self.per_position.get(position, 0) + 1
            self.by_step.setdefault(step.expect or step.what, []).append(seconds)

    def figures(self) -> dict[str, Any]:
        done = self.completed
        counts = list(self.per_position.values())
        ordered = sorted(self.latencies) or [0.0]

        def pct(share: float) -> float:
            return round(percentile(ordered, share) * 1000, 1)

        return {
            "updates": done,
            "updates_per_second": round(done / self.window, 1) if self.window else 0.0,
            "updates_per_second_by_round": self.rounds,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1] * 1000, 1),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "bot_cpu_ms_per_update": round(self.cpu_seconds * 1000 / done, 2) if done else None,
            "bot_api_calls_per_update": round(self.api_calls / done, 2) if done else None,
            # how evenly the visit's steps were measured: the fewest and the most updates of one step
            "updates_per_step_min_max": [min(counts, default=0), max(counts, default=0)],
            "slowest_steps_p95_ms": {
                step: round(percentile(times, 0.95) * 1000, 1)
                for step, times in sorted(self.by_step.items(), key=lambda kv: -percentile(kv[1], 0.95))[:4]
            },
        }


def script_for(customer: Customer, script: Any) -> list[Step]:
    return script(CATEGORIES[(customer.user.id + customer.visits) % len(CATEGORIES)])


async def spread(customer: Customer, script: Any, steps: int) -> None:
    """Untimed: take the first ``steps`` steps of a visit, so that the measured phases begin with the
    customers spread over the whole visit (every step as often as the others), not all at /start."""
    for step in script_for(customer, script)[customer.position : steps]:
        await customer.do(step)
    customer.position = steps


async def customer_loop(
    customer: Customer, script: Any, phase: Phase, think: tuple[float, float], rng: random.Random
) -> None:
    """Visits, one step after another, until the phase ends; the next phase goes on where this one ended."""
    while time.monotonic() < phase.ends:
        steps = script_for(customer, script)
        while customer.position < len(steps):
            if time.monotonic() >= phase.ends:
                return
            step = steps[customer.position]
            if think[1]:
                await asyncio.sleep(rng.uniform(*think))
            began = time.monotonic()
            try:
                phase.record(step, began, await customer.do(step), customer.position)
            except (ActionError, TimeoutError) as error:
                phase.errors.append(f"{step.what or step.kind}: {error}")
                break  # start the visit again from /start
            customer.position += 1
        customer.visits += 1
        customer.position = 0


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this process (the sandbox and the customers) during a phase.

    Its chat logs hold every message of the run, and a full collection over them stopped the sandbox
    for 100-250 ms at a time: every bot's replies waited, and the paced p99 measured this process, not
    the bot. One collection runs before the phase instead, outside what is measured.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def counters_after(seconds: float, pid: int, stats: Any) -> tuple[float, int]:
    """The bot's CPU seconds and Bot API calls so far, read when the warm-up ends (what is counted)."""
    await asyncio.sleep(seconds)
    return cpu_seconds(pid), sum(stats.methods.values())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.asynccontextmanager
async def bot_process(args: list[str], env: dict[str, str], folder: Path) -> AsyncIterator[int]:
    log_path = folder / f"bot-{len(list(folder.glob('bot-*.log')))}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *args, env={**os.environ, **env}, cwd=folder, stdout=log, stderr=log
        )
        try:
            yield process.pid
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)  # as Ctrl-C: the bot stops cleanly, a profiler writes
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 3)  # a long poll may hold it; no need to wait
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = log_path.read_text(errors="replace")
    if "Traceback" in text:
        print(
            f"bench updates: the bot wrote a traceback; see the end of its log:\n{text[-3000:]}",
            file=sys.stderr,
        )


@contextlib.asynccontextmanager
async def running_bot(
    args: list[str], env: dict[str, str], folder: Path
) -> AsyncIterator[tuple[SandboxServer, BotState, int]]:
    """A fresh sandbox and the bot process polling it: (sandbox, the bot as the sandbox sees it, pid)."""
    async with SandboxServer(port=0, tokens=[TOKEN]) as sandbox:
        bot = sandbox.world.bot(TOKEN)
        env = {**env, "TELEGRAM_API_URL": sandbox.url, "BOT_TOKEN": TOKEN}
        try:
            async with bot_process(args, env, folder) as pid:
                deadline = time.monotonic() + 60
                while bot.poller is None:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{' '.join(args)}: the bot did not start polling within a minute")
                    await asyncio.sleep(0.05)
                yield sandbox, bot, pid
        finally:
            bot.poller = None  # end the stopped bot's pending long poll now, not at its timeout
            bot.update_changes.bump()


def profiler(pid: int, seconds: float) -> list[str]:
    """py-spy recording the bot's collapsed stacks to $BENCH_PROFILE, or nothing when it is unset."""
    path = os.environ.get("BENCH_PROFILE")
    return recorder(pid, Path(path), seconds) if path else []


@dataclass
class Run:
    """One bot under test, started, with its customers spread over their visits."""

    name: str
    script: Any
    sandbox: SandboxServer
    pid: int
    people: list[Customer]
    phases: dict[str, Phase] = field(default_factory=dict)
    idle_rss_mb: float = 0.0

    async def phase(self, name: str, seconds: float, think: tuple[float, float], profile: bool) -> None:
        """One round of a phase: every customer goes on with their visits for ``seconds``."""
        phase = self.phases.setdefault(name, Phase(name))
        done_before = phase.completed
        command = profiler(self.pid, seconds) if profile else []
        spy = None
        if command:
            spy = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
        stats = self.sandbox.world.stats
        rng = random.Random(7)
        with collector_paused():
            phase.begin(seconds)
            counted = asyncio.create_task(counters_after(phase.warmup, self.pid, stats))
            await asyncio.gather(*(customer_loop(c, self.script, phase, think, rng) for c in self.people))
        cpu, calls = await counted
        phase.end(done_before, cpu_seconds(self.pid) - cpu, sum(stats.methods.values()) - calls)
        if spy is not None:
            await spy.wait()

    def figures(self, load: Load) -> dict[str, Any]:
        figures: dict[str, Any] = {"bot": self.name, "idle_rss_mb": self.idle_rss_mb}
        figures.update({name: phase.figures() for name, phase in self.phases.items()})
        if "paced" in figures:
            figures["paced"]["think_seconds"] = list(load.think)
            figures["paced"]["offered_per_second"] = round(load.customers / (sum(load.think) / 2), 1)
        figures["rss_after_mb"] = round(rss_mb(self.pid), 1)
        # read before the sandbox ends the stopped bot's long poll (that answer is a refusal of its own)
        figures["bot_api_calls_refused"] = self.sandbox.world.stats.as_dict()["errors"]
        figures["bot_api_calls"] = self.sandbox.world.stats.as_dict()["methods"]
        return figures


@contextlib.asynccontextmanager
async def started(
    name: str, args: list[str], env: dict[str, str], script: Any, load: Load, folder: Path
) -> AsyncIterator[Run]:
    """Start the bot, let every customer say /start, then spread them over the visit (untimed)."""
    async with running_bot(args, env, folder) as (sandbox, bot, pid):
        people = simulated_customers(sandbox, bot, load.customers)
        await asyncio.gather(*(c.do(script_for(c, script)[0]) for c in people))
        for c in people:
            c.position = 1
        visit_length = len(script(CATEGORIES[0]))
        await asyncio.gather(*(spread(c, script, i % visit_length) for i, c in enumerate(people)))
        yield Run(name, script, sandbox, pid, people, idle_rss_mb=round(rss_mb(pid), 1))


def simulated_customers(sandbox: SandboxServer, bot: BotState, count: int) -> list[Customer]:
    """``count`` new people in the sandbox, to talk to the bot; Telegram's flood limits are off, so the
    bot's own speed is measured."""
    sandbox.world.limits.enabled = False
    actions = sandbox.app[ACTIONS]
    return [Customer(actions, bot, sandbox.world.add_user(f"C{i}", language_code="en")) for i in range(count)]


async def idle_rss(args: list[str], env: dict[str, str], folder: Path, settle: float = 5.0) -> float:
    """Resident memory of a bot process that has started, polled and run its first jobs, then waits."""
    async with running_bot(args, env, folder) as (_, _, pid):
        await asyncio.sleep(settle)  # the scheduler's first round of jobs runs ~3 s after start
        return rss_mb(pid)


async def seed(url: str, media: Path) -> None:
    """The demo catalog with stock enough for every order the run places."""
    rows = list(csv.DictReader(io.StringIO(demo_csv())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "stock": 1_000_000})
    draw_photos(media)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with UnitOfWork(create_session_factory(engine)) as uow:
            result = await import_products_csv(uow, out.getvalue(), "USD", media)
            assert not result.errors, result.errors
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A fresh database on the given PostgreSQL server, dropped afterwards (nothing of yours is touched)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"orderbot_bench_{os.getpid()}"
    admin = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def shop_env(url: str, media: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "MEDIA_DIR": str(media),
        "CURRENCY": "USD",
        "SHOP_NAME": "Bench Café",
        "BANK_DETAILS": "IBAN XX00 BENCH",
        "THROTTLE_PER_SECOND": "1000",  # simulated customers tap faster than the anti-flood allows people
        "THROTTLE_BURST": "1000",
        "REDIS_URL": "",
        "WEBHOOK_URL": "",
    }


def round_ratios(run: Run, bare: Run) -> list[float]:
    """Ours / bare in each saturated round (the bots took them in turn)."""
    pairs = zip(run.phases["saturated"].rounds, bare.phases["saturated"].rounds, strict=True)
    return [ours / (ceiling or 1.0) for ours, ceiling in pairs]


async def bench(load: Load | int | None = None, postgres_url: str | None = None) -> dict[str, Any]:
    """Both bots under the same load (a number: that many customers); ours on SQLite, and on PostgreSQL
    too when BENCH_DATABASE_URL names a server (a scratch database is created there and dropped)."""
    load = Load(load) if isinstance(load, int) else load or Load()
    postgres_url = postgres_url if postgres_url is not None else os.environ.get("BENCH_DATABASE_URL")
    python = sys.executable
    figures: dict[str, Any] = {"benchmark": "updates", **asdict(load)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            bare = [python, "-m", "bench.echo_bot"]
            runs = [
                await stack.enter_async_context(
                    started("bare aiogram echo", bare, {}, echo_visit, load, folder)
                )
            ]
            ours = [python, "-m", "bot.cli", "run"]
            urls = [("orderbot sqlite", f"sqlite+aiosqlite:///{folder / 'shop.db'}")]
            if postgres_url:
                urls.append(
                    ("orderbot postgresql", await stack.enter_async_context(postgres_database(postgres_url)))
                )
            for name, url in urls:
                await seed(url, folder / "media")
                env = shop_env(url, folder / "media")
                runs.append(await stack.enter_async_context(started(name, ours, env, visit, load, folder)))
            # Every bot runs all along; they take the saturated rounds in turn, so a slow spell of a shared
            # machine falls on all of them, and each round gives a ratio of its own.
            for number in range(load.rounds):
                for run in runs:
                    profile = number == 0 and run.name == "orderbot sqlite"
                    await run.phase("saturated", load.saturated_seconds, (0.0, 0.0), profile)
            for run in runs:
                await run.phase("paced", load.paced_seconds, load.think, False)
            results = [run.figures(load) for run in runs]
    figures["runs"] = results
    by_round = {run.name: round_ratios(run, runs[0]) for run in runs[1:]}
    figures["ratio"] = {name: round(statistics.median(ratios), 2) for name, ratios in by_round.items()}
    figures["ratio_by_round"] = {name: [round(r, 2) for r in ratios] for name, ratios in by_round.items()}
    if os.environ.get("BENCH_PROFILE"):  # the SQLite bot's first saturated round
        figures["profile"] = shares(Path(os.environ["BENCH_PROFILE"]))
    figures["targets"] = {"ratio": 0.40, "paced_p99_ms": 50, "idle_rss_mb": 150}
    return figures


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    load = Load(int(args[0])) if args else Load()
    print(json.dumps(asyncio.run(bench(load))))


if __name__ == "__main__":
    main()
