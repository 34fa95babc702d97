"""``python -m tests.e2e.moved_clock WHEN ARGS…``: the ``orderbot`` command with its clock moved to WHEN
(an ISO time) at start, running on from there: tomorrow morning for a test, without waiting a night."""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine

if __name__ == "__main__":
    when = datetime.fromisoformat(sys.argv.pop(1))
    time_machine.travel(when, tick=True).start()
    from bot.cli import app

    app(prog_name="orderbot")
