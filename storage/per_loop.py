"""One asyncio object per engine and per event loop: an asyncio lock or semaphore belongs to the loop it
was made in, and the tests run many loops against one engine."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
PerLoop = weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, T]]


def per_loop(table: PerLoop[T], owner: Any, make: Callable[[], T]) -> T:
    """``owner``'s object in ``table`` for the running event loop, made by ``make`` the first time."""
    loop = asyncio.get_running_loop()
    by_loop = table.get(owner)
    if by_loop is None:  # (setdefault would make a dictionary at every call, to throw it away)
        by_loop = table[owner] = weakref.WeakKeyDictionary()
    made = by_loop.get(loop)
    if made is None:
        made = by_loop[loop] = make()
    return made
