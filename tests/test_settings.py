"""Settings: .env.example is valid as shipped; values are parsed the way owners write them."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT


def test_env_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    config = settings.shop_config()
    assert config.payment_methods == ("transfer", "cash", "pos", "mobile_money")
    assert config.bank_details.count("\n") == 2 and config.about == "Open every day 8:00-20:00."


def test_owner_friendly_values(tmp_path: Path) -> None:
    settings = load_settings(
        admin_ids="12, 34;56",
        payment_methods="Cash, transfer",
        currency="jpy",
        paid_at_handover="Cash, mobile_money",
        delivery_fee="300",
        bank_details="Line 1\\nLine 2",
        _env_file=None,
    )
    config = settings.shop_config()
    assert settings.admin_ids == [12, 34, 56] and config.payment_methods == ("cash", "transfer")
    assert config.paid_at_handover == ("cash", "mobile_money")
    assert (config.currency, config.delivery_fee_minor, config.bank_details) == ("JPY", 300, "Line 1\nLine 2")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"currency": "EURO"}, "CURRENCY"),
        ({"delivery_fee": "1.234", "currency": "USD"}, "DELIVERY_FEE"),
        ({"default_language": "de"}, "DEFAULT_LANGUAGE"),
        ({"cancel_window_minutes": "-1"}, "CANCEL_WINDOW_MINUTES"),
        ({"updates_at_once": "0"}, "UPDATES_AT_ONCE"),
        ({"paid_at_handover": "transfer"}, "PAID_AT_HANDOVER"),
        ({"shop_about": "x" * 501}, "SHOP_ABOUT"),
        ({"loyalty_points_per_unit": "1e30"}, "LOYALTY_POINTS_PER_UNIT"),
    ],
)
def test_bad_values_name_the_setting(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, **values)
    assert str(error.value).startswith(f"setting {named}")
