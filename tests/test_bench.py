"""The benchmarks run and report what they promise (figures are for BENCHMARKS.md, never asserted here)."""

from __future__ import annotations

from pathlib import Path

from bench.notify import bench as notify_bench
from bench.notify import window_max
from bench.profile import package, shares


async def test_the_notify_benchmark_delivers_everything_and_reports_its_figures() -> None:
    figures = await notify_bench(recipients=30, busy_chats=2, each=4)
    assert figures["broadcast_messages"] == 30 and figures["refused_other"] == 0
    assert {
        "achieved_over_limit",
        "steady_over_limit",
        "rate_limited_429",
        "max_per_chat_in_any_second",
    } <= set(figures)


def test_window_max_counts_the_busiest_second() -> None:
    assert window_max([0.0, 0.5, 0.99, 1.0, 1.2, 3.0]) == 4  # 0.5 … 1.2
    assert window_max([5.0]) == 1


async def test_the_catalog_benchmark_reports_page_and_search_figures() -> None:
    from bench.catalog import bench as catalog_bench

    figures = await catalog_bench(products=600, customers=20, runs=5)
    assert figures["products"] == 600 and figures["idle_bot_rss_mb"] > 0
    assert figures["idle_bare_aiogram_bot_rss_mb"] > 0
    for key in ("page", "search_one_word", "search_two_words"):
        assert set(figures[key]) == {"p50_ms", "p95_ms", "p99_ms"}


async def test_the_checkout_benchmark_sells_the_last_unit_once() -> None:
    from bench.checkout import bench as checkout_bench

    figures = await checkout_bench(buyers=12, writers=5)
    assert figures["last_unit"]["placed"] == 1 and figures["last_unit"]["out_of_stock"] == 11
    assert figures["oversold"] == 0 and figures["concurrent_writers"]["placed"] == 5
    assert figures["last_unit"]["database_locked"] == figures["concurrent_writers"]["database_locked"] == 0


async def test_the_unit_of_work_benchmark_times_each_variant() -> None:
    from bench.uow import bench as uow_bench

    figures = await uow_bench(repetitions=5, rounds=2, postgres_url="")
    assert set(figures["sqlite"]) == {
        "empty_writer_unit_ms",
        "writer_unit_recording_its_update_ms",
        "handled_before_and_customer_ms",
        "read_only_update_record_ms",
        "read_only_update_record_20_together_ms",
        "read_customer_orm_ms",
        "read_customer_core_in_session_ms",
        "read_customer_core_without_session_ms",
    }
    assert all(ms > 0 for ms in figures["sqlite"].values()), figures


async def test_the_updates_benchmark_serves_customers_of_both_bots() -> None:
    from bench.updates import Load
    from bench.updates import bench as updates_bench

    load = Load(customers=4, saturated_seconds=3, rounds=2, paced_seconds=3, think=(0.05, 0.2))
    figures = await updates_bench(load, postgres_url="")
    bare, ours = figures["runs"]
    for run in (bare, ours):
        assert run["saturated"]["updates"] > 0 and run["saturated"]["errors"] == 0, run
        assert run["paced"]["errors"] == 0 and run["bot_api_calls_refused"] == 0, run
        assert {"p50_ms", "p95_ms", "p99_ms", "updates_per_second"} <= set(run["paced"])
        assert run["saturated"]["updates_per_step_min_max"][1] > 0, run
    assert figures["ratio"]["orderbot sqlite"] > 0
    assert len(figures["ratio_by_round"]["orderbot sqlite"]) == 2


async def test_the_steps_benchmark_costs_every_step_of_a_visit_for_each_bot() -> None:
    """With a base checkout (here this one again: its own seed and bot, started from its folder), the
    A/B's third bot takes every step too."""
    from bench.steps import bench as steps_bench

    figures = await steps_bench(customers=5, visits=1, base=str(Path(__file__).resolve().parents[1]))
    rows = figures["cpu_ms_per_update_by_step"]
    assert [row["step"] for row in rows][:2] == ["/start", "🛍 Catalog"] and len(rows) == 13
    for bot in ("ours", "base", "bare"):  # CPU is read in ticks: a cheap step may read 0
        assert all(row[f"{bot}_ms"] >= 0 for row in rows), rows
        assert figures["mean"][f"{bot}_ms"] > 0, figures["mean"]
    assert figures["ratio_from_cpu"] is not None and figures["ours_over_base"] is not None
    assert len(figures["ours_over_base_by_visit"]) == 1
    # the Bot API calls each step made: a message is answered with one, a product card is a photo
    assert rows[0]["ours_calls"] == {"sendMessage": 1.0} and rows[0]["bare_calls"] == 1.0
    assert rows[3]["ours_calls"] == {"answerCallbackQuery": 1.0, "sendPhoto": 1.0}
    assert figures["calls_per_update"]["ours"]["answering"] > 1


def test_profile_shares_give_each_sample_to_its_innermost_frames_layer(tmp_path: Path) -> None:
    """py-spy's raw format: a stack of frames, outermost first, then how many samples it had."""
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(
        "run (bot/cli.py:81);execute (sqlalchemy/orm/session.py:2555) 6\n"
        # a stack cut at a greenlet switch: only the innermost frame counts
        "_execute (storage/sqlite_driver.py:101) 2\n"
        "run (bot/cli.py:81);answer (aiogram/methods/base.py:40);model_validate (pydantic/main.py:596) 3\n"
        "run (bot/cli.py:81);render (jinja2/environment.py:1295) 1\n"
        "run (bot/cli.py:81);show (handlers/answers.py:30) 2\n"
        "_run_once (asyncio/base_events.py:1922) 4\n"
        "<frozen runpy> 1\n"
        "\n"
    )
    figures = shares(stacks)
    assert figures["samples"] == 19
    assert figures["share_by_layer"] == {
        "database": round(8 / 19, 3),
        "loop and the rest": round(5 / 19, 3),
        "telegram": round(3 / 19, 3),
        "ours": round(2 / 19, 3),
        "text": round(1 / 19, 3),
    }
    assert figures["share_by_package"]["sqlalchemy"] == round(6 / 19, 3)
    assert shares(stacks, top=1)["share_by_package"] == {"sqlalchemy": round(6 / 19, 3)}
    assert package("main (weakref.py:45)") == "weakref" and package("<frozen runpy>") == "?"
