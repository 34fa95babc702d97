"""The sandbox's HTTP server: the Bot API at /bot<token>/<method>, simulated users under /sandbox/."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from .actions import ActionError, Actions
from .botapi import TOKEN, BotApi
from .state import BotState, Fault, UserRec, World

log = logging.getLogger("sandbox")
WORLD = web.AppKey("world", World)
API = web.AppKey("api", BotApi)
ACTIONS = web.AppKey("actions", Actions)


def create_app(world: World | None = None, tokens: list[str] | None = None) -> web.Application:
    """Build the sandbox application; ``tokens`` are bots known before they first call."""
    world = world or World()
    for token in tokens or []:
        world.bot(token)
    api = BotApi(world)
    app = web.Application(client_max_size=50 * 1024 * 1024, middlewares=[_errors])
    app[WORLD] = world
    app[API] = api
    app[ACTIONS] = Actions(api)

    async def http_client(app: web.Application) -> Any:
        api.http = aiohttp.ClientSession()
        yield
        for bot in world.bots.values():
            if bot.webhook_task:
                bot.webhook_task.cancel()
        await api.http.close()

    app.cleanup_ctx.append(http_client)
    r = app.router
    r.add_post("/bot{token}/{method}", api.handle)
    r.add_get("/bot{token}/{method}", api.handle)
    r.add_get("/file/bot{token}/{path:.+}", download_file)
    r.add_get("/", web_chat)
    r.add_get("/sandbox/bots", list_bots)
    r.add_post("/sandbox/bots", register_bot)
    r.add_get("/sandbox/users", list_users)
    r.add_post("/sandbox/users", create_user)
    r.add_get("/sandbox/users/{id}", get_user)
    r.add_post("/sandbox/users/{id}/send", user_send)
    r.add_post("/sandbox/users/{id}/press", user_press)
    r.add_post("/sandbox/users/{id}/pay", user_pay)
    r.add_post("/sandbox/users/{id}/inline", user_inline)
    r.add_post("/sandbox/users/{id}/block", user_block)
    r.add_post("/sandbox/users/{id}/unblock", user_unblock)
    r.add_get("/sandbox/users/{id}/messages", user_messages)
    r.add_get("/sandbox/users/{id}/chat", user_chat)
    r.add_get("/sandbox/users/{id}/events", user_events)
    r.add_post("/sandbox/groups", create_group)
    r.add_post("/sandbox/groups/{id}/members", add_member)
    r.add_get("/sandbox/groups/{id}/messages", group_messages)
    r.add_get("/sandbox/files/{file_id}", show_file)
    r.add_get("/sandbox/calls", list_calls)
    r.add_get("/sandbox/stats", get_stats)
    r.add_get("/sandbox/limits", get_limits)
    r.add_post("/sandbox/limits", set_limits)
    r.add_get("/sandbox/faults", get_faults)
    r.add_post("/sandbox/faults", add_fault)
    r.add_delete("/sandbox/faults", clear_faults)
    r.add_post("/sandbox/reset", reset)
    r.add_post("/sandbox/webhook/targets", set_webhook_targets)
    return app


class ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except (ActionError, ClientError) as error:
        status = error.status
        return web.json_response({"ok": False, "error": str(error)}, status=status)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
        if not request.path.startswith("/sandbox/"):
            raise
        return web.json_response({"ok": False, "error": f"bad request: {error!r}"}, status=400)


# --- helpers ----------------------------------------------------------------------------------------
async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ClientError(400, "the body must be a JSON object")
    return body


def _user(request: web.Request) -> UserRec:
    user = request.app[WORLD].users.get(int(request.match_info["id"]))
    if user is None:
        raise ClientError(404, f"no simulated user {request.match_info['id']}")
    return user


def _bot(request: web.Request, body: dict[str, Any] | None = None) -> BotState:
    raw = (body or {}).get("bot_id") or request.query.get("bot_id")
    bot = request.app[WORLD].default_bot(int(raw) if raw else None)
    if bot is None:
        raise ClientError(409, "no bot is connected yet: start the bot first or POST /sandbox/bots {token}")
    return bot


def _chat_id(request: web.Request, body: dict[str, Any] | None = None) -> int | None:
    raw = (body or {}).get("chat_id") or request.query.get("chat_id")
    return int(raw) if raw not in (None, "") else None


# --- bots and users ---------------------------------------------------------------------------------
async def list_bots(request: web.Request) -> web.Response:
    return web.json_response([_bot_info(bot) for bot in request.app[WORLD].bots.values()])


def _bot_info(bot: BotState) -> dict[str, Any]:
    return {
        **bot.as_user(),
        "webhook": bot.webhook.url if bot.webhook else None,
        "pending_updates": len(bot.updates),
    }


async def register_bot(request: web.Request) -> web.Response:
    body = await _body(request)
    token = str(body.get("token", ""))
    if not TOKEN.match(token):
        raise ClientError(400, "token must look like 123456:ABC-def")
    bot = request.app[WORLD].bot(token)
    if body.get("username"):
        bot.username = str(body["username"])
    if body.get("first_name"):
        bot.first_name = str(body["first_name"])
    return web.json_response(_bot_info(bot))


async def list_users(request: web.Request) -> web.Response:
    return web.json_response([asdict(user) for user in request.app[WORLD].users.values()])


async def create_user(request: web.Request) -> web.Response:
    body = await _body(request)
    first_name = str(body.get("first_name") or "").strip()
    if not first_name:
        raise ClientError(400, "first_name is required")
    user = request.app[WORLD].add_user(
        first_name[:64], body.get("username"), body.get("language_code"), body.get("last_name")
    )
    if body.get("phone_number"):
        user.phone_number = str(body["phone_number"])
    return web.json_response({**user.as_user(), "phone_number": user.phone_number})


async def get_user(request: web.Request) -> web.Response:
    return web.json_response(asdict(_user(request)))


async def user_send(request: web.Request) -> web.Response:
    body = await _body(request)
    sent = request.app[ACTIONS].send(_bot(request, body), _user(request), body)
    return web.json_response({"ok": True, "message": sent[-1], "messages": sent})


async def user_press(request: web.Request) -> web.Response:
    body = await _body(request)
    answer = await request.app[ACTIONS].press(_bot(request, body), _user(request), body)
    return web.json_response({"ok": True, **answer})


async def user_pay(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response(await request.app[ACTIONS].pay(_bot(request, body), _user(request), body))


async def user_inline(request: web.Request) -> web.Response:
    body = await _body(request)
    answer = await request.app[ACTIONS].inline(_bot(request, body), _user(request), body)
    return web.json_response({"ok": True, **answer})


async def user_block(request: web.Request) -> web.Response:
    request.app[ACTIONS].set_blocked(_bot(request), _user(request), True)
    return web.json_response({"ok": True})


async def user_unblock(request: web.Request) -> web.Response:
    request.app[ACTIONS].set_blocked(_bot(request), _user(request), False)
    return web.json_response({"ok": True})


async def _chat_after(request: web.Request) -> Any:
    """The chat, after waiting up to ``wait`` seconds for a version newer than ``version``."""
    bot, user = _bot(request), _user(request)
    log = request.app[ACTIONS].chat(bot, user, _chat_id(request))
    since = int(request.query.get("version", -1))
    wait = min(float(request.query.get("wait", 0)), 60.0)
    await log.changes.wait_newer(since, wait)
    return bot, user, log


async def user_messages(request: web.Request) -> web.Response:
    _, _, log = await _chat_after(request)
    return web.json_response(
        list(log.messages.values()), headers={"X-Sandbox-Version": str(log.changes.version)}
    )


async def user_chat(request: web.Request) -> web.Response:
    bot, user, log = await _chat_after(request)
    commands: list[dict[str, Any]] = next(iter(bot.commands.values()), [])
    return web.json_response(
        {
            "version": log.changes.version,
            "bot": bot.as_user(),
            "user": asdict(user),
            "chat": log.chat,
            "messages": list(log.messages.values()),
            "reply_keyboard": log.reply_keyboard,
            "blocked": user.id in bot.blocked_by,
            "commands": commands,
            "invoices": {str(k): {"paid": bool(v.get("paid"))} for k, v in log.invoices.items()},
        }
    )


async def user_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the chat's version each time it changes (web chat reloads then)."""
    bot, user = _bot(request), _user(request)
    log = request.app[ACTIONS].chat(bot, user, _chat_id(request))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    version = -1
    try:
        while True:
            newer = await log.changes.wait_newer(version, 15.0)
            if newer != version:
                version = newer
                await response.write(f"data: {version}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


# --- groups -----------------------------------------------------------------------------------------
async def create_group(request: web.Request) -> web.Response:
    body = await _body(request)
    world = request.app[WORLD]
    members = [int(m) for m in body.get("members", [])]
    unknown = [m for m in members if m not in world.users]
    if unknown:
        raise ClientError(404, f"no simulated users {unknown}")
    group = world.add_group(str(body.get("title") or "Group"), members, bool(body.get("supergroup")))
    return web.json_response({**group.as_chat(), "members": sorted(group.members)})


async def add_member(request: web.Request) -> web.Response:
    body = await _body(request)
    world = request.app[WORLD]
    group = world.groups.get(int(request.match_info["id"]))
    if group is None:
        raise ClientError(404, "no such group")
    user_id = int(body["user_id"])
    if user_id not in world.users:
        raise ClientError(404, f"no simulated user {user_id}")
    group.members.add(user_id)
    return web.json_response({**group.as_chat(), "members": sorted(group.members)})


async def group_messages(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    chat_id = int(request.match_info["id"])
    if chat_id not in world.groups:
        raise ClientError(404, "no such group")
    log = world.chat_log(_bot(request), chat_id)
    assert log is not None
    await log.changes.wait_newer(
        int(request.query.get("version", -1)), min(float(request.query.get("wait", 0)), 60)
    )
    return web.json_response(
        list(log.messages.values()), headers={"X-Sandbox-Version": str(log.changes.version)}
    )


# --- files ------------------------------------------------------------------------------------------
async def download_file(request: web.Request) -> web.StreamResponse:
    world = request.app[WORLD]
    if not TOKEN.match(request.match_info["token"]):
        raise web.HTTPUnauthorized()
    path = request.match_info["path"]
    for record in world.files.values():
        if record.data is not None and record.file_path == path:
            return web.Response(body=record.data, content_type=record.mime_type)
    raise web.HTTPNotFound()


async def show_file(request: web.Request) -> web.StreamResponse:
    record = request.app[WORLD].files.get(request.match_info["file_id"])
    if record is None:
        raise web.HTTPNotFound()
    if record.data is None:
        raise web.HTTPFound(record.url or "/")
    return web.Response(body=record.data, content_type=record.mime_type)


# --- observing and steering -------------------------------------------------------------------------
async def list_calls(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    method = request.query.get("method", "").lower()
    since = int(request.query.get("since", 0))
    calls = [c for c in world.calls if c["seq"] > since and (not method or c["method"].lower() == method)]
    return web.json_response(calls)


async def get_stats(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    pending = {str(bot.id): len(bot.updates) for bot in world.bots.values()}
    return web.json_response({**world.stats.as_dict(), "pending_updates": pending})


async def get_limits(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[WORLD].limits))


async def set_limits(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    try:
        world.limits.update(await _body(request))
    except KeyError as error:
        raise ClientError(400, f"unknown limit {error}") from error
    return web.json_response(asdict(world.limits))


async def set_webhook_targets(request: web.Request) -> web.Response:
    """Play a load balancer: deliver the bot's webhook updates to these URLs in turn ({urls: [...]})."""
    body = await _body(request)
    urls = body.get("urls")
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.startswith("http") for u in urls):
        raise ClientError(400, "urls must be a list of http(s) URLs")
    bot = _bot(request, body)
    bot.webhook_targets = list(urls)
    return web.json_response({"urls": bot.webhook_targets})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response([asdict(f) for f in request.app[WORLD].faults if f.times > 0])


async def add_fault(request: web.Request) -> web.Response:
    body = await _body(request)
    kinds = {"429", "403", "400", "500", "502", "503", "slow", "timeout"}
    kind = str(body.get("kind", ""))
    if kind not in kinds:
        raise ClientError(400, f"kind must be one of {sorted(kinds)}")
    fault = Fault(
        kind=kind,
        method=body.get("method"),
        chat_id=int(body["chat_id"]) if body.get("chat_id") is not None else None,
        times=int(body.get("times", 1)),
        retry_after=int(body.get("retry_after", 1)),
        delay=float(body.get("delay", 1.0)),
        description=body.get("description"),
    )
    request.app[WORLD].faults.append(fault)
    return web.json_response(asdict(fault))


async def clear_faults(request: web.Request) -> web.Response:
    request.app[WORLD].faults.clear()
    return web.json_response({"ok": True})


async def reset(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    tokens = [bot.token for bot in world.bots.values()] if (await _body(request)).get("keep_bots") else []
    world.reset()
    for token in tokens:
        world.bot(token)
    return web.json_response({"ok": True})


async def web_chat(request: web.Request) -> web.Response:
    page = resources.files("sandbox").joinpath("web/index.html").read_text(encoding="utf-8")
    return web.Response(text=page, content_type="text/html")


# --- running ----------------------------------------------------------------------------------------
class SandboxServer:
    """Run the sandbox inside an asyncio program (tests, benchmarks, ``orderbot demo``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tokens: list[str] | None = None) -> None:
        self.host, self.port = host, port
        self.world = World()
        self.app = create_app(self.world, tokens)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> SandboxServer:
        # On stop, a long poll or an event stream still open is cut after a second rather than
        # waited for (aiohttp's default is a minute; a getUpdates of a bot that went away holds 20 s).
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError:  # the port is taken: nothing of this server is left open
            await self.stop()
            raise
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def run(host: str = "127.0.0.1", port: int = 8081, tokens: list[str] | None = None) -> None:
    """Serve until interrupted (``python -m sandbox``, ``orderbot sandbox``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"Sandbox Bot API: http://{host}:{port}  (set TELEGRAM_API_URL to this)", flush=True)
    print(f"Web chat:        http://{host}:{port}/", flush=True)
    web.run_app(create_app(tokens=tokens), host=host, port=port, print=None, access_log=None)
