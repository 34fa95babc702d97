"""Log lines: JSON off a terminal, with the update, user and order they are about."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import current_update, current_user, setup_logging
from shop.context import about_order, current_order


@pytest.fixture(autouse=True)
def keep_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_name_the_update_user_and_order() -> None:
    stream = io.StringIO()
    setup_logging(json=True, stream=stream)
    tokens = current_update.set(42), current_user.set(7), current_order.set(None)
    try:
        logging.getLogger("orderbot").info("placed <b> & done")
        about_order(12)
        logging.getLogger("orderbot").warning("paid")
    finally:
        current_update.reset(tokens[0])
        current_user.reset(tokens[1])
        current_order.reset(tokens[2])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "placed <b> & done" and first["update_id"] == 42 and first["user_id"] == 7
    assert first["order"] is None and second["order"] == 12 and second["level"] == "WARNING"
    assert "where" not in second


def test_on_a_terminal_lines_are_readable() -> None:
    stream = io.StringIO()
    setup_logging(json=False, stream=stream)
    token = current_update.set(5)
    try:
        logging.getLogger("orderbot").info("hello")
    finally:
        current_update.reset(token)
    assert stream.getvalue().rstrip().endswith("orderbot: hello [update=5]")
