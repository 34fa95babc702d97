"""Button labels are rendered once for each language and plain context, and kept; templates render
every value they can be given."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from handlers import render
from handlers.render import Renderer
from shop import payments
from shop.config import ShopConfig
from storage.models import Product


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(ShopConfig(currency="USD"))


def test_a_label_of_plain_values_is_kept_per_language(renderer: Renderer) -> None:
    english = renderer.label("product", "en", name="Tea <b>", price_minor=1250, sold_out=True)
    assert english == "Tea <b> · $12.50 · sold out"  # plain text: Telegram shows labels without HTML
    assert renderer.label("product", "en", name="Tea <b>", price_minor=1250, sold_out=True) is english
    russian = renderer.label("product", "ru", name="Tea <b>", price_minor=1250, sold_out=False)
    assert russian.startswith("Tea <b> · 12,50") and "sold out" not in russian


def test_equal_values_of_other_types_are_other_labels(renderer: Renderer) -> None:
    assert renderer.label("category", "en", name="Tea", count=1) == "Tea (1)"
    assert renderer.label("category", "en", name="Tea", count=True) == "Tea (True)"


def test_a_label_of_an_object_is_rendered_each_time(renderer: Renderer) -> None:
    """An object is hashed by its identity: another one, with other contents, may get its id later."""
    kept = len(renderer._labels)
    product = Product(name="Green", price_minor=300, stock=0)
    assert renderer.label("category", "en", name=product, count=1) == f"{product} (1)"
    assert len(renderer._labels) == kept
    assert renderer.label("order", "en", number=7, total_minor=300, status="paid").startswith("#7 · $3.00")
    assert len(renderer._labels) == kept + 1


def test_kept_labels_are_forgotten_when_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_KEPT_LABELS", 2)
    renderer = Renderer(ShopConfig(currency="USD"))
    for count in range(3):
        renderer.label("category", "en", name="Tea", count=count)
    assert len(renderer._labels) == 1


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("status", payments.STATUSES)
def test_every_payment_status_renders_wherever_payments_are_shown(
    renderer: Renderer, status: str, language: str
) -> None:
    customer = SimpleNamespace(first_name="Ann", username=None, phone=None)
    order = SimpleNamespace(
        number=7,
        status="refunded",
        customer=customer,
        created_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
        fulfilment="pickup",
        items=[],
        delivery_fee_minor=0,
        total_minor=900,
        payment_method="stars",
        reference="ABCD2345",
        notes=None,
        receipt_file_id=None,
        events=[],
    )
    payment = SimpleNamespace(
        id=3, order=order, amount_minor=900, method="stars", reference=None, status=status
    )
    named = renderer.render("staff.payment_status", language, status=status)
    assert named and (named != status or language == "en")  # a word for it, not the raw value
    settlement = payments.Settlement(payment, order, 0, False)  # type: ignore[arg-type]
    shown = [
        renderer.render("staff.order", language, order=order, payments=[payment]),
        renderer.render("staff.payments", language, payments=[payment], pending_only=False),
        renderer.render("staff.payment_recorded", language, s=settlement),
        renderer.render(
            "errors.error",
            language,
            code="payment_already_decided",
            params={"payment_id": 3, "status": status},
        ),
    ]
    assert all(named in text for text in shown)
