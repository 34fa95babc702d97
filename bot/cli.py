"""The ``orderbot`` command."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from .settings import SettingsError, load_settings

app = typer.Typer(
    help="orderbot: a Telegram ordering bot for small shops, with a local Telegram sandbox.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalog_app = typer.Typer(help="Load or save the catalog as CSV.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")

Port = Annotated[int, typer.Option(help="Port for the Bot API and the web chat.")]
Host = Annotated[str, typer.Option(help="Address to listen on.")]
Tokens = Annotated[
    list[str] | None, typer.Option("--token", help="A bot token known before the bot connects.")
]
DEMO_TOKEN = "123456:sandbox-demo-token"


OPTIONS = {"debug": False}  # --debug: a failure to start shows its traceback


@app.callback()
def options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks when something fails.")] = False,
) -> None:
    OPTIONS["debug"] = debug


def serve(main: Coroutine[Any, Any, None]) -> None:
    """Run a bot until it stops, on uvloop where it is installed (Linux and macOS; asyncio's own loop on
    Windows). bench updates: 10-17% more updates/s, 13-24% less CPU per update, lower paced p99.
    A failure to start is one line (``StartupError``) and exit code 2, unless ``--debug``."""
    from .runner import StartupError

    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(main)
        else:
            uvloop.run(main)
    except StartupError as error:
        if OPTIONS["debug"]:
            raise
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _logging(log_format: str = "", level: int = logging.INFO) -> None:
    from .logs import setup_logging

    setup_logging(level, json={"json": True, "text": False}.get(log_format))


def _settings(**overrides: object):  # type: ignore[no-untyped-def]
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def warnings(settings: Any) -> list[tuple[str, str]]:
    """Settings a shop can run without, though customers or staff will miss something."""
    found = []
    if "transfer" in settings.payment_methods and not settings.bank_details.strip():
        found.append(
            (
                "BANK_DETAILS",
                "empty, and bank transfer is offered: customers who choose it get no account to pay",
            )
        )
    if not settings.admin_ids:
        found.append(("ADMIN_IDS", "empty: no owner gets new-order alerts or can verify payments"))
    return found


@app.command()
def run(
    webhook: Annotated[
        bool, typer.Option("--webhook", help="Serve a webhook (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_PORT).")
    ] = False,
) -> None:
    """Serve the shop bot on Telegram: long polling, or with --webhook an HTTP server (one of N workers)."""
    from .runner import run_polling, run_webhook

    settings = _settings()
    missing = [("BOT_TOKEN", "required — create a bot with @BotFather and put its token in .env")]
    problems = [(n, why) for n, why in missing if not settings.bot_token.get_secret_value()]
    if webhook and not settings.webhook_url:
        problems.append(("WEBHOOK_URL", "required with --webhook: the public https URL Telegram posts to"))
    if webhook and not settings.webhook_secret.get_secret_value():
        problems.append(
            ("WEBHOOK_SECRET", "required with --webhook: a random string, e.g. from `openssl rand -hex 32`")
        )
    for name, why in problems:
        typer.secho(f"setting {name}: {why}", fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(2)
    for name, what in warnings(settings):
        typer.secho(f"setting {name}: {what}", fg=typer.colors.YELLOW, err=True)
    _logging(settings.log_format)
    serve(run_webhook(settings) if webhook else run_polling(settings))


@app.command()
def demo(
    port: Port = 8081,
    host: Host = "127.0.0.1",
    database: Annotated[
        str, typer.Option(help="Database for the demo shop.")
    ] = "sqlite+aiosqlite:///./orderbot-demo.db",
) -> None:
    """Try orderbot without a Telegram token: sandbox + shop bot + demo catalog, with a web chat."""
    from .demo_run import run_demo

    settings = _settings(
        bot_token=DEMO_TOKEN, database_url=database, telegram_api_url=f"http://{host}:{port}"
    )
    # Quiet but for trouble, so the web chat's address is the last thing on the screen (--debug: all).
    _logging(settings.log_format, logging.DEBUG if OPTIONS["debug"] else logging.WARNING)
    serve(run_demo(settings, host, port))


@app.command()
def sandbox(port: Port = 8081, host: Host = "127.0.0.1", token: Tokens = None) -> None:
    """Run the local Telegram Bot API emulator and its web chat, nothing else."""
    from sandbox import run as run_sandbox

    run_sandbox(host, port, token or [])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (DATABASE_URL) up to the latest schema."""
    from storage.db import create_engine
    from storage.migrations import current_revision, upgrade

    settings = _settings()

    async def go() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {asyncio.run(go())}")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="new file for the copy, e.g. backup.db")],
) -> None:
    """Copy the SQLite database (DATABASE_URL) to FILE, consistent even while the bot runs."""
    from storage.backup import BackupRefused, backup_sqlite

    settings = _settings()
    try:
        size = backup_sqlite(settings.database_url, file)
    except BackupRefused as error:
        typer.secho(f"no backup made: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up to {file} ({size / 1_000_000:.1f} MB)")


@db_app.command("copy")
def db_copy(
    source: Annotated[
        str, typer.Argument(help="database URL to copy from, e.g. sqlite+aiosqlite:///./orderbot.db")
    ],
    target: Annotated[
        str, typer.Argument(help="an empty database, e.g. postgresql+asyncpg://shop@db/orderbot")
    ],
) -> None:
    """Copy the whole shop to another (empty) database, e.g. from SQLite to PostgreSQL. All or nothing."""
    from storage.copy import CopyRefused, copy_database

    try:
        copied = asyncio.run(copy_database(source, target))
    except CopyRefused as error:
        typer.secho(f"nothing copied: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    for table, rows in copied.items():
        typer.echo(f"{table}: {rows}")
    typer.echo(f"copied {sum(copied.values())} rows; point DATABASE_URL at the new database")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file")],
) -> None:
    """Create or update products by SKU from a CSV file (columns in docs/catalog.md). All or nothing."""
    from markupsafe import Markup

    from handlers.render import Renderer
    from shop.catalog import import_products_csv
    from shop.errors import InvalidImport

    settings = _settings()
    t = Renderer(settings.shop_config()).texts(settings.default_language)

    def fail(*lines: str) -> NoReturn:
        for line in lines:
            typer.secho(Markup(line).striptags(), fg=typer.colors.RED, err=True)
        raise typer.Exit(1)

    try:
        text = file.read_text("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text (save it as CSV UTF-8); nothing was imported")
    shown_at = time.monotonic()

    async def progress(done: int, total: int) -> None:
        nonlocal shown_at
        if time.monotonic() - shown_at >= 1 or done == total:
            shown_at = time.monotonic()
            typer.echo(f"{done} of {total} rows written", err=True)

    try:
        result = asyncio.run(
            _with_uow(
                settings,
                lambda uow: import_products_csv(
                    uow, text, settings.currency, Path(settings.media_dir), progress
                ),
            )
        )
    except InvalidImport as error:
        fail(t("errors.error", code=error.code, params=error.params))
    if result.errors:
        fail(*(t("crm.row_error", e=e) for e in result.errors), "nothing was imported")
    typer.echo(f"{result.created} created, {result.updated} updated")
    for renamed in result.renamed:
        typer.echo(t("crm.renamed", r=renamed))


@catalog_app.command("export")
def catalog_export(file: Annotated[Path, typer.Argument(dir_okay=False, help="CSV file to write")]) -> None:
    """Write every product to a CSV file that `orderbot catalog import` reads back."""
    from shop.catalog import export_products_csv

    settings = _settings()
    text = asyncio.run(_with_uow(settings, lambda uow: export_products_csv(uow, settings.currency)))
    file.write_text(text, encoding="utf-8")
    typer.echo(f"{max(text.count(chr(10)) - 1, 0)} products written to {file}")


async def _with_uow(settings, work):  # type: ignore[no-untyped-def]
    from storage.db import create_engine, create_session_factory
    from storage.migrations import upgrade
    from storage.uow import UnitOfWork

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with UnitOfWork(create_session_factory(engine)) as uow:
            return await work(uow)
    finally:
        await engine.dispose()


BENCHMARKS = ("updates", "steps", "notify", "catalog", "checkout", "uow")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(BENCHMARKS)}")],
    size: Annotated[
        int | None,
        typer.Option(
            help="how many: customers (updates, 200; steps, 100), messages (notify, 1500), products "
            "(catalog, 100000), buyers (checkout, 200), repetitions (uow, 1000)"
        ),
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option(
            help="steps only: another checkout of orderbot (git worktree add /tmp/base main) whose bot takes "
            "the steps beside this one's: an A/B in one run"
        ),
    ] = None,
) -> None:
    """Run a benchmark against an in-process sandbox and print its figures as one JSON object."""
    import importlib
    import json

    if name not in BENCHMARKS:
        typer.secho(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}", fg="red", err=True)
        raise typer.Exit(2)
    if base is not None and name != "steps":
        typer.secho("--base is for the steps benchmark", fg="red", err=True)
        raise typer.Exit(2)
    if base is not None and not (base / "bot" / "cli.py").is_file():
        typer.secho(f"--base {base}: not a checkout of orderbot (no bot/cli.py there)", fg="red", err=True)
        raise typer.Exit(2)
    module = importlib.import_module(f"bench.{name}")
    options: dict[str, Any] = {"base": str(base)} if base is not None else {}
    typer.echo(json.dumps(asyncio.run(module.bench(size, **options) if size else module.bench(**options))))


if __name__ == "__main__":
    app()
