"""The error strategy as data and the retry decision."""

from datetime import date
from pathlib import Path

import pytest

from ecos_migration.domain.error_strategy import (
    Actor,
    Step,
    load_error_strategy,
    parse_error_strategy,
)
from ecos_migration.errors import ConfigurationError

DAY = date(2024, 3, 1)


def test_default_lists_every_step() -> None:
    strategy = load_error_strategy()
    assert {kind.step for kind in strategy.kinds.values()} == set(Step)


def test_retry_until_attempts_run_out() -> None:
    strategy = load_error_strategy()
    kind = strategy.kind("COMMS_FAILURE")
    for attempts_made in range(1, kind.max_attempts):
        decision = strategy.decide("COMMS_FAILURE", attempts_made, DAY)
        assert decision.retry
        assert decision.retry_on == date(2024, 3, 1 + kind.retry_wait_days)
    final = strategy.decide("COMMS_FAILURE", kind.max_attempts, DAY)
    assert final.failed_migration
    assert final.retry_on is None


def test_not_retried_kind_fails_at_once(tmp_path: Path) -> None:
    text = """
[[error]]
code = "FATAL"
step = "REPLACE"
description = "A fatal error."
retried = false
max_attempts = 5
retry_wait_days = 1
actor = "SUPPLIER"
action = "Replace the device."
"""
    strategy = parse_error_strategy(text, "test")
    assert strategy.decide("FATAL", 1, DAY).failed_migration
    assert strategy.kind("FATAL").actor is Actor.SUPPLIER


def test_unknown_code_named() -> None:
    with pytest.raises(ConfigurationError, match="NOT_A_CODE"):
        load_error_strategy().kind("NOT_A_CODE")


def test_duplicate_code_rejected() -> None:
    entry = """
[[error]]
code = "X"
step = "REVIEW"
description = "d"
retried = true
max_attempts = 2
retry_wait_days = 0
actor = "DCC"
action = "a"
"""
    with pytest.raises(ConfigurationError, match="listed twice"):
        parse_error_strategy(entry + entry, "test")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("step", '"DANCE"', "error.0.step"),
        ("actor", '"NOBODY"', "error.0.actor"),
        ("max_attempts", "0", "error.0.max_attempts"),
        ("retry_wait_days", "-1", "error.0.retry_wait_days"),
        ("code", '"lower"', "error.0.code"),
    ],
)
def test_invalid_entry_named(field: str, value: str, fragment: str) -> None:
    values = {
        "code": '"X"',
        "step": '"REVIEW"',
        "description": '"d"',
        "retried": "true",
        "max_attempts": "2",
        "retry_wait_days": "0",
        "actor": '"DCC"',
        "action": '"a"',
    }
    values[field] = value
    text = "[[error]]\n" + "".join(f"{key} = {val}\n" for key, val in values.items())
    with pytest.raises(ConfigurationError, match=fragment):
        parse_error_strategy(text, "strategy.toml")


def test_missing_strategy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_error_strategy(tmp_path / "absent.toml")
