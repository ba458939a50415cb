"""The forecast on constructed histories with known results."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ecos_migration.domain.forecast import forecast_completion, recent_rate

AS_OF = date(2024, 6, 30)
END = date(2024, 10, 31)


def _steady(per_day: int, days: int, last: date = AS_OF) -> dict[date, int]:
    return {last - timedelta(days=n): per_day for n in range(days)}


def test_forecast_steady_rate_completion() -> None:
    # 100 a day for 60 days; 1,000 eligible left takes exactly 10 more days.
    forecast = forecast_completion(
        _steady(100, 60),
        as_of=AS_OF,
        eligible_remaining=1000,
        in_scope_remaining=1000,
        period_end=END,
    )
    assert forecast.rate_per_day == 100
    assert forecast.window_start == date(2024, 6, 3)
    assert forecast.completion_date == date(2024, 7, 10)
    assert forecast.on_track
    assert forecast.stranded_at_end == 0


def test_forecast_late_counts_stranded() -> None:
    # 123 days from 2024-06-30 to 2024-10-31 leave 122 migration days (the end day has none).
    forecast = forecast_completion(
        _steady(50, 28),
        as_of=AS_OF,
        eligible_remaining=10_000,
        in_scope_remaining=10_500,
        period_end=END,
    )
    assert forecast.migration_days_left == 122
    assert forecast.completion_date == AS_OF + timedelta(days=200)
    assert not forecast.on_track
    # 122 days at 50 reach 6,100 of the 10,000 eligible; 500 ineligible stay as they are.
    assert forecast.stranded_at_end == 10_500 - 6_100


def test_forecast_uses_recent_window() -> None:
    # A fast start long ago does not count: only the last 28 days set the rate.
    history = _steady(1000, 30, last=AS_OF - timedelta(days=40)) | _steady(10, 28)
    rate, start = recent_rate(history, AS_OF, 28)
    assert rate == 10
    assert start == AS_OF - timedelta(days=27)


def test_forecast_gap_days_count_as_zero() -> None:
    history = {AS_OF - timedelta(days=27): 280, AS_OF: 0}
    rate, _ = recent_rate(history, AS_OF, 28)
    assert rate == 10


def test_forecast_short_history() -> None:
    # Seven days of history average over seven days, not over the whole window.
    rate, start = recent_rate(_steady(70, 7), AS_OF, 28)
    assert rate == 70
    assert start == AS_OF - timedelta(days=6)


def test_forecast_ignores_future_days() -> None:
    history = _steady(10, 28) | {AS_OF + timedelta(days=1): 5000}
    rate, _ = recent_rate(history, AS_OF, 28)
    assert rate == 10


def test_forecast_zero_rate_never_completes() -> None:
    forecast = forecast_completion(
        {}, as_of=AS_OF, eligible_remaining=5, in_scope_remaining=8, period_end=END
    )
    assert forecast.rate_per_day == 0
    assert forecast.completion_date is None
    assert not forecast.on_track
    assert forecast.stranded_at_end == 8


def test_forecast_nothing_left() -> None:
    forecast = forecast_completion(
        _steady(10, 28), as_of=AS_OF, eligible_remaining=0, in_scope_remaining=3, period_end=END
    )
    assert forecast.completion_date == AS_OF
    assert forecast.on_track
    assert forecast.stranded_at_end == 3


def test_forecast_completion_on_end_is_late() -> None:
    # Finishing on the period end itself is too late: the TCoS Party stops that day.
    forecast = forecast_completion(
        _steady(1, 28, last=date(2024, 10, 21)),
        as_of=date(2024, 10, 21),
        eligible_remaining=10,
        in_scope_remaining=10,
        period_end=END,
    )
    assert forecast.completion_date == END
    assert not forecast.on_track
    assert forecast.stranded_at_end == 1


def test_forecast_after_end() -> None:
    forecast = forecast_completion(
        _steady(5, 28, last=END),
        as_of=END,
        eligible_remaining=4,
        in_scope_remaining=9,
        period_end=END,
    )
    assert forecast.migration_days_left == 0
    assert forecast.stranded_at_end == 9


@pytest.mark.parametrize(("eligible", "in_scope"), [(-1, 0), (5, 4)])
def test_forecast_rejects_bad_counts(eligible: int, in_scope: int) -> None:
    with pytest.raises(ValueError, match="invalid remaining counts"):
        forecast_completion(
            {},
            as_of=AS_OF,
            eligible_remaining=eligible,
            in_scope_remaining=in_scope,
            period_end=END,
        )


def test_forecast_rejects_empty_window() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        recent_rate({}, AS_OF, 0)


def test_forecast_json_round_values() -> None:
    forecast = forecast_completion(
        {AS_OF: 1, AS_OF - timedelta(days=1): 0, AS_OF - timedelta(days=2): 0},
        as_of=AS_OF,
        eligible_remaining=1,
        in_scope_remaining=1,
        period_end=END,
    )
    data = forecast.to_json()
    assert data["rate_per_day"] == 0.333
    assert data["completion_date"] == "2024-07-03"
    assert data["window_days"] == 28
