"""Loading and validating the configuration."""

from datetime import date
from pathlib import Path

import pytest

from ecos_migration.config import MAX_PROVING_DEVICES, load_settings
from ecos_migration.domain.device import DeviceType
from ecos_migration.errors import ConfigurationError


def test_defaults_load() -> None:
    settings = load_settings()
    assert settings.proving.steps == [1, 4, 10, 35, 50, 100, 100]
    assert settings.proving.success_rate == 0.95
    assert settings.eligibility.in_scope_device_types == [
        DeviceType.ESME,
        DeviceType.GSME,
        DeviceType.GPF,
    ]
    assert settings.period.live_date == date(2023, 6, 30)
    assert settings.period.end_date == date(2024, 10, 31)


def test_period_cutoffs() -> None:
    period = load_settings().period
    assert period.supplier_cutoff_date == date(2024, 10, 1)
    assert period.hub_cutoff_date == date(2024, 2, 10)


def test_override_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[capacity]\ndaily = 17\n")
    settings = load_settings(path)
    assert settings.capacity.daily == 17
    assert settings.proving.success_rate == 0.95


def test_extension_moves_period_end(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[[period.extensions]]\n"
        "new_end_date = 2025-03-31\n"
        'granted_by = "Secretary of State"\n'
        "granted_on = 2024-09-15\n"
    )
    period = load_settings(path).period
    assert period.effective_end_date == date(2025, 3, 31)
    assert period.supplier_cutoff_date == date(2025, 3, 1)


def test_proving_plan_over_cap_rejected(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[proving]\nsteps = [100, 100, 101]\n")
    with pytest.raises(ConfigurationError, match=str(MAX_PROVING_DEVICES)) as caught:
        load_settings(path)
    assert "301" in str(caught.value)
    assert str(path) in str(caught.value)


def test_proving_plan_at_cap_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[proving]\nsteps = [100, 100, 100]\n")
    assert sum(load_settings(path).proving.steps) == MAX_PROVING_DEVICES


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[proving]\nsteps = []\n", "proving.steps"),
        ("[proving]\nsteps = [0, 5]\n", "proving.steps"),
        ("[proving]\nsuccess_rate = 1.5\n", "proving.success_rate"),
        ("[capacity]\ndaily = 0\n", "capacity.daily"),
        ('[eligibility]\nin_scope_device_types = ["ESME", "TOASTER"]\n', "in_scope_device_types"),
        ("[incidents]\ntarget_resolution_hours = { 1 = 0 }\n", "more than 0 hours"),
        ("[capacity]\nunknown_key = 1\n", "unknown_key"),
        ("[capacity\n", "invalid TOML"),
    ],
)
def test_invalid_config_named(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=fragment):
        load_settings(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "[period]\nend_date = 2023-06-30\n",
            ["period.end_date 2023-06-30 must be after period.live_date 2023-06-30"],
        ),
        (
            "[[period.extensions]]\nnew_end_date = 2024-10-31\n"
            'granted_by = "Secretary of State"\ngranted_on = 2024-09-15\n',
            ["period.extensions[0].new_end_date 2024-10-31", "in force before it, 2024-10-31"],
        ),
        (
            "[[period.extensions]]\nnew_end_date = 2025-03-31\n"
            'granted_by = "Secretary of State"\ngranted_on = 2024-09-15\n'
            "[[period.extensions]]\nnew_end_date = 2025-01-31\n"
            'granted_by = "Secretary of State"\ngranted_on = 2024-12-01\n',
            ["period.extensions[1].new_end_date 2025-01-31", "2025-03-31"],
        ),
        (
            "[[period.extensions]]\nnew_end_date = 2025-03-31\n"
            'granted_by = "Secretary of State"\ngranted_on = 2024-11-15\n',
            ["period.extensions[0].granted_on 2024-11-15", "2024-10-31"],
        ),
        ("[capacity]\ndaily = true\n", ["capacity.daily", "valid integer", "True"]),
        ("[proving]\nsteps = [true, 5]\n", ["proving.steps.0", "valid integer", "True"]),
        ("[proving]\nsuccess_rate = true\n", ["proving.success_rate", "True"]),
        ('[capacity]\ndaily = "100"\n', ["capacity.daily", "'100'"]),
        (
            "[incidents]\ntarget_resolution_hours = "
            "{ 0 = 1, 1 = 4, 2 = 24, 3 = 72, 4 = 168, 5 = 336, 6 = 1 }\n",
            ["incidents.target_resolution_hours", "categories [0, 6] are not valid"],
        ),
        (
            "[suspension]\nwindow_attempts = 40\nmin_attempts = 50\n",
            ["suspension.window_attempts 40 is smaller than suspension.min_attempts 50"],
        ),
    ],
)
def test_impossible_config_rejected(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_integer_rates_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[proving]\nsuccess_rate = 1\n[suspension]\nfailure_rate = 0\n")
    settings = load_settings(path)
    assert settings.proving.success_rate == 1
    assert settings.suspension.failure_rate == 0
