"""Money: integer minor units, formatted and parsed per currency (0, 2 and 3 decimals)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.errors import InvalidAmount
from shop.money import exponent, format_money, format_plain, parse_amount


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("NGN", 2), ("THB", 2)])
def test_exponent_comes_from_the_currency(currency: str, places: int) -> None:
    assert exponent(currency) == places


def test_format_in_the_customers_language() -> None:
    assert format_money(1250, "USD") == "$12.50"
    assert format_money(1250, "JPY") == "¥1,250"
    assert format_money(1250, "KWD", "en") == "KWD1.250"
    assert format_money(123456, "RUB", "ru") == "1\xa0234,56\xa0₽"


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("25.50", "USD", 2550),
        ("25,50", "USD", 2550),
        ("25", "USD", 2500),
        ("2500", "JPY", 2500),
        ("1.5", "USD", 150),
        ("0.125", "KWD", 125),
        (" 7 ", "EUR", 700),
    ],
)
def test_parse_amount(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("-5", "USD"),
        ("25.505", "USD"),
        ("25.5", "JPY"),
        ("abc", "USD"),
        ("", "USD"),
        ("1e3", "USD"),
        ("25.50.1", "USD"),
        ("١٢", "USD"),
        ("$25", "USD"),
    ],
)
def test_parse_amount_is_strict(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text, currency)


@given(st.integers(min_value=0, max_value=10**15 - 1), st.sampled_from(["USD", "JPY", "KWD", "EUR", "NGN"]))
def test_plain_format_parses_back(minor: int, currency: str) -> None:
    assert parse_amount(format_plain(minor, currency), currency) == minor


def test_sixteen_whole_digits_are_too_many() -> None:
    assert parse_amount("9" * 15, "JPY") == 10**15 - 1
    with pytest.raises(InvalidAmount):
        parse_amount("1" * 16, "JPY")


@given(
    st.integers(min_value=0, max_value=10**15 - 1),
    st.sampled_from(["USD", "JPY", "KWD", "EUR", "NGN", "RUB", "GBP"]),
    st.sampled_from(["en", "ru"]),
)
def test_what_customers_read_holds_exactly_the_amount(minor: int, currency: str, locale: str) -> None:
    """Symbol, grouping and decimal mark vary by language; the digits are always the amount's."""
    shown = format_money(minor, currency, locale)
    digits = "".join(c for c in shown if c.isdigit())
    assert int(digits) == minor
    assert len(digits) >= exponent(currency) + 1  # 5 cents is $0.05, never $.5
