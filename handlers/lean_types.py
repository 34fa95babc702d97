"""aiogram imported without building every Telegram type's validator up front.

aiogram declares its models ``defer_build=True``, then calls ``model_rebuild()`` on all ~300 of them at
import to resolve their forward references (aiogram/aiogram#1513). That builds every pydantic validator
at once, each inlining the types it nests: importing aiogram took 170 MB and 4.5 s here before the bot had
done anything. ``import_aiogram`` lets those calls only hand over the namespace they carry; every type
and method is then built the first time it is used — the few dozen a shop bot touches. Measured on this
project: idle RSS 225 → 123–131 MB, import 4.5 → 0.8 s (BENCHMARKS.md).

If pydantic or aiogram change shape, the normal import runs: a bigger process, never a broken one.
"""

from __future__ import annotations

import sys
from typing import Any

DEFERRED = "deferred"
EAGER = "eager"


def import_aiogram() -> str:
    """Import aiogram (once per process) with its types built on first use; how it was imported."""
    if "aiogram" in sys.modules:
        return getattr(sys.modules["aiogram"], "_orderbot_import", EAGER)
    from pydantic import BaseModel

    rebuild = BaseModel.__dict__["model_rebuild"]
    handed: list[Any] = []

    def hand_over(cls: type[BaseModel], **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        if namespace is not None and not kwargs.get("force") and cls.model_config.get("defer_build"):
            if not handed:
                handed.append(namespace)
            return None
        kwargs["_parent_namespace_depth"] = kwargs.get("_parent_namespace_depth", 2) + 1
        return rebuild.__func__(cls, **kwargs)  # type: ignore[no-any-return]

    BaseModel.model_rebuild = classmethod(hand_over)  # type: ignore[method-assign,assignment]
    try:
        import aiogram
        import aiogram.methods
        import aiogram.types
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
    if not handed:
        return EAGER
    models = [
        model
        for module in (aiogram.types, aiogram.methods)
        for model in (getattr(module, name) for name in module.__all__)
        if isinstance(model, type) and issubclass(model, BaseModel)
    ]
    if not _resolve_on_first_use(models, handed[0]):
        for model in models:  # what aiogram itself does at import: build them all
            model.model_rebuild(_types_namespace=handed[0])
        return EAGER
    aiogram._orderbot_import = DEFERRED  # type: ignore[attr-defined]
    return DEFERRED


def _resolve_on_first_use(models: list[Any], namespace: dict[str, Any]) -> bool:
    """Give every model the namespace its first build resolves names in (nested types included; a
    generic's parametrisations, ``Response[Message]``, inherit it); False if that does not work here."""
    from aiogram.methods import SendMessage
    from aiogram.types import Update

    for model in models:
        model.__pydantic_parent_namespace__ = namespace
    # every bot reads updates and sends messages: built now, they prove the namespace is used
    return all(model.model_rebuild(raise_errors=False) is not False for model in (Update, SendMessage))
