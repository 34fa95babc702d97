"""Staff: /report [today|week|month] with a chart of revenue per day."""

from __future__ import annotations

import io

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from shop.config import ShopConfig
from shop.errors import DomainError
from shop.money import to_major
from shop.reports import Report, build_report
from storage.models import utcnow
from storage.uow import UnitOfWork

from ..answers import explain
from ..limits import CAPTION_LIMIT, fits
from ..render import Texts
from .access import IsStaff

router = Router(name="staff_reports")
router.message.filter(IsStaff())


@router.message(Command("report"))
async def report_command(
    message: Message, command: CommandObject, t: Texts, uow: UnitOfWork, config: ShopConfig
) -> None:
    try:
        report = await build_report(uow, command.args or "today", config.timezone, utcnow())
    except DomainError as error:
        await explain(message, t, error)
        return
    await uow.end_read()
    caption = t("reports.summary", r=report)
    chart = revenue_chart(report, config.currency, t.label("revenue_axis", currency=config.currency))
    if fits(caption, CAPTION_LIMIT):
        await message.answer_photo(BufferedInputFile(chart, "revenue.png"), caption=caption)
    else:
        await message.answer(caption)
        await message.answer_photo(BufferedInputFile(chart, "revenue.png"))


def revenue_chart(report: Report, currency: str, axis_label: str) -> bytes:
    """A PNG bar chart of revenue per day (matplotlib, Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    days = [day.strftime("%d %b") for day, _ in report.revenue_by_day]
    values = [float(to_major(minor, currency)) for _, minor in report.revenue_by_day]
    axes.bar(days, values, color="#2a9d8f")
    axes.set_ylabel(axis_label)
    axes.grid(axis="y", alpha=0.3)
    if len(days) > 10:
        for index, label in enumerate(axes.get_xticklabels()):
            label.set_visible(index % 5 == 0)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
