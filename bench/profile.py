"""Where a profiled bot's CPU goes, by layer, from py-spy's collapsed stacks (``py-spy record -f raw``).

Each sample is given to the code its innermost Python frame belongs to: what a C extension does counts
for the Python code that called it (sqlite3 for our driver, pydantic-core for pydantic). The innermost
frame is right even where py-spy could not follow a stack through a greenlet switch or a loop callback,
where a sample's whole stack would mislead.
"""

from __future__ import annotations

import collections
import re
import shutil
import sys
from pathlib import Path
from typing import Any

# A frame reads "function (path/of/file.py:line)", the path relative to where Python found the module.
_FILE = re.compile(r"\(([^():]*)(?::\d+)?\)$")
LAYERS: dict[str, tuple[str, ...]] = {
    # the database: SQLAlchemy, the drivers, and ours (storage: models, repositories, the SQLite driver)
    "database": ("sqlalchemy", "aiosqlite", "asyncpg", "sqlite3", "greenlet", "storage"),
    # aiogram and what it stands on: routing, types, the Bot API's HTTP calls
    "telegram": (
        "aiogram",
        "aiohttp",
        "pydantic",
        "pydantic_core",
        "yarl",
        "multidict",
        "json",
        "magic_filter",
    ),
    "text": ("jinja2", "markupsafe", "babel"),  # templates and formatting
    "ours": ("bot", "handlers", "shop"),  # handlers, services, middlewares (the database's part above)
}
_LAYER_OF = {package: layer for layer, packages in LAYERS.items() for package in packages}


def package(frame: str) -> str:
    """The package (or standard-library module) a frame's file belongs to."""
    match = _FILE.search(frame)
    path = match.group(1) if match else ""
    first = path.split("/", 1)[0]
    return first.removesuffix(".py") if first else "?"


def shares(stacks: Path, top: int = 12) -> dict[str, Any]:
    """Samples, each layer's share (the rest: the event loop, the standard library), the largest packages."""
    by_package: collections.Counter[str] = collections.Counter()
    for line in stacks.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            by_package[package(stack.rsplit(";", 1)[-1])] += int(samples)
    total = sum(by_package.values())
    if not total:
        return {"samples": 0}
    by_layer: collections.Counter[str] = collections.Counter()
    for name, count in by_package.items():
        by_layer[_LAYER_OF.get(name, "loop and the rest")] += count
    return {
        "samples": total,
        "share_by_layer": {name: round(count / total, 3) for name, count in by_layer.most_common()},
        "share_by_package": {name: round(count / total, 3) for name, count in by_package.most_common(top)},
    }


def recorder(pid: int, path: Path, seconds: float | None = None) -> list[str]:
    """The py-spy command recording ``pid`` into ``path``: for ``seconds``, or until it is interrupted
    (SIGINT: it writes what it has). It samples without pausing the bot (``--nonblocking``): pausing it at
    every sample halved its rate."""
    command = [_py_spy(), "record", "--nonblocking", "-f", "raw", "-o", str(path), "-p", str(pid)]
    return [*command, "-d", str(int(seconds))] if seconds else command


def _py_spy() -> str:
    """py-spy on the PATH, or installed beside this Python (``.venv/bin/pip install py-spy``)."""
    beside = Path(sys.executable).with_name("py-spy")
    found = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
    if found is None:
        raise RuntimeError("BENCH_PROFILE needs py-spy: .venv/bin/pip install py-spy")
    return found
