"""The forecast for the Secretary of State: when the eligible devices will be migrated.

The forecast assumes nothing changes: devices keep migrating at the recent rate, and devices
that are ineligible today stay ineligible. The recent rate is the mean number of devices
migrated per day over the last ``window_days`` days up to and including ``as_of``. A history
shorter than the window is averaged over the days it covers, from its first day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_WINDOW_DAYS = 28


@dataclass(frozen=True, slots=True)
class Forecast:
    """The outcome of the forecast on ``as_of``.

    ``completion_date`` is the day on which the last eligible device is expected to migrate,
    or ``None`` when the recent rate is zero and there is work left. ``stranded_at_end`` counts
    the devices expected to still hold TCoS at the period end: the eligible devices the recent
    rate does not reach in time plus every device that is ineligible today.
    """

    as_of: date
    window_days: int
    window_start: date
    rate_per_day: float
    eligible_remaining: int
    in_scope_remaining: int
    period_end: date
    migration_days_left: int
    completion_date: date | None
    on_track: bool
    stranded_at_end: int

    def to_json(self) -> dict[str, object]:
        """Return the forecast as JSON-ready values."""
        return {
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "window_start": self.window_start.isoformat(),
            "rate_per_day": round(self.rate_per_day, 3),
            "eligible_remaining": self.eligible_remaining,
            "in_scope_remaining": self.in_scope_remaining,
            "period_end": self.period_end.isoformat(),
            "migration_days_left": self.migration_days_left,
            "completion_date": self.completion_date.isoformat() if self.completion_date else None,
            "on_track": self.on_track,
            "stranded_at_end": self.stranded_at_end,
        }


def recent_rate(
    migrated_per_day: Mapping[date, int], as_of: date, window_days: int
) -> tuple[float, date]:
    """Return the mean devices migrated per day in the window ending on ``as_of``, and its start.

    Days inside the window with no entry count as zero migrations.
    """
    if window_days < 1:
        raise ValueError(f"the forecast window must be at least 1 day, got {window_days}")
    window_start = as_of - timedelta(days=window_days - 1)
    known_days = [day for day in migrated_per_day if day <= as_of]
    if not known_days:
        return 0.0, window_start
    window_start = max(window_start, min(known_days))
    days = (as_of - window_start).days + 1
    total = sum(count for day, count in migrated_per_day.items() if window_start <= day <= as_of)
    return total / days, window_start


def forecast_completion(
    migrated_per_day: Mapping[date, int],
    *,
    as_of: date,
    eligible_remaining: int,
    in_scope_remaining: int,
    period_end: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> Forecast:
    """Forecast when the eligible devices are migrated and how many devices are stranded.

    ``as_of`` is the last day whose migrations are counted; the next migration day is the day
    after it. Migrations can happen on every day before ``period_end``: on the period end the
    TCoS Party stops and every device still holding TCoS is stranded.
    """
    if eligible_remaining < 0 or in_scope_remaining < eligible_remaining:
        raise ValueError(
            f"invalid remaining counts: eligible {eligible_remaining}, in scope "
            f"{in_scope_remaining}; expected 0 <= eligible <= in scope"
        )
    rate, window_start = recent_rate(migrated_per_day, as_of, window_days)
    days_left = max(0, (period_end - as_of).days - 1)

    completion: date | None
    if eligible_remaining == 0:
        completion = as_of
    elif rate > 0:
        completion = as_of + timedelta(days=math.ceil(eligible_remaining / rate))
    else:
        completion = None

    reached = min(eligible_remaining, math.floor(rate * days_left))
    stranded = in_scope_remaining - reached
    return Forecast(
        as_of=as_of,
        window_days=window_days,
        window_start=window_start,
        rate_per_day=rate,
        eligible_remaining=eligible_remaining,
        in_scope_remaining=in_scope_remaining,
        period_end=period_end,
        migration_days_left=days_left,
        completion_date=completion,
        on_track=completion is not None and completion < period_end,
        stranded_at_end=stranded,
    )
