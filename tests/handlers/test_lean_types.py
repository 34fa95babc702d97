"""aiogram imported with its types built on first use (handlers/lean_types.py): every type, every method
and every method's answer must still build and validate. Run in a fresh interpreter, as the bot starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = textwrap.dedent(
    """
    import bot.cli  # the bot's entry point, which imports aiogram the lean way
    import aiogram
    from aiogram import methods, types
    from aiogram.methods import Response, TelegramMethod
    from pydantic import BaseModel

    assert aiogram._orderbot_import == "deferred"
    assert not types.Sticker.__pydantic_complete__, "the types were built at import"

    update = types.Update.model_validate(
        {"update_id": 1, "callback_query": {"id": "1", "from": {"id": 7, "is_bot": False, "first_name": "A"},
         "chat_instance": "c", "data": "d", "message": {"message_id": 2, "date": 0,
         "chat": {"id": 7, "type": "private"}, "text": "hi", "reply_markup": {"inline_keyboard":
         [[{"text": "a", "callback_data": "b"}]]}}}}
    )
    assert update.callback_query.message.reply_markup.inline_keyboard[0][0].callback_data == "b"

    def models(module):
        for name in module.__all__:
            model = getattr(module, name)
            if isinstance(model, type) and issubclass(model, BaseModel):
                if not model.__pydantic_generic_metadata__["parameters"]:
                    yield name, model

    # answers first, while the types they hold are still unbuilt (as when the bot meets them)
    for name, method in models(methods):
        if issubclass(method, TelegramMethod):
            assert Response[method.__returning__].__pydantic_complete__, f"the answer to {name}"
    built = 0
    for module in (types, methods):
        for name, model in models(module):
            assert model.model_rebuild() is not False, name
            built += 1
    print(built)
    """
)


def test_every_type_method_and_answer_builds_after_a_lean_import() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip()) > 300  # types and methods: the whole of aiogram's API was built


FALLBACK = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("lean_copy", "handlers/lean_types.py")
    lean = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lean)
    lean._resolve_on_first_use = lambda models, namespace: False  # as if pydantic ignored the namespace
    assert lean.import_aiogram() == lean.EAGER
    from aiogram import types
    assert types.Sticker.__pydantic_complete__
    types.Update.model_validate({"update_id": 1})
    """
)


def test_the_plain_import_runs_when_the_namespace_is_not_used() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK], check=False, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
