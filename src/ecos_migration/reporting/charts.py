"""Charts of the progress report, drawn with matplotlib's Agg canvas into PNG bytes.

Figures are built with ``matplotlib.figure.Figure`` and an explicit Agg canvas, not pyplot,
so no global state or display is involved and charts can be drawn from any thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ecos_migration.domain.device import MigrationState

if TYPE_CHECKING:
    from ecos_migration.reporting.progress import ProgressFigures

SIZE_INCHES = (8.0, 4.0)
STATE_COLOURS = {
    MigrationState.NOT_STARTED: "tab:grey",
    MigrationState.IN_PROGRESS: "tab:orange",
    MigrationState.AWAITING_REMEDIATION: "tab:red",
    MigrationState.MIGRATED: "tab:green",
}
DPI = 100


@dataclass(frozen=True, slots=True)
class Chart:
    """One rendered chart: its file name, title and PNG bytes."""

    file_name: str
    title: str
    png: bytes


def _figure() -> tuple[Figure, Any]:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _no_data(axes: Any) -> None:
    axes.text(0.5, 0.5, "No data yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _over_time(figures: ProgressFigures) -> Chart:
    title = "Migrated and remaining devices over time"
    figure, axes = _figure()
    if figures.history:
        days = [day.day for day in figures.history]
        axes.plot(days, [day.migrated_total for day in figures.history], label="Migrated")
        axes.plot(days, [day.remaining for day in figures.history], label="Remaining in scope")
        axes.set_ylabel("Devices")
        axes.legend()
        figure.autofmt_xdate()
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("migrated-and-remaining.png", title, _png(figure))


def _per_day(figures: ProgressFigures) -> Chart:
    title = "Devices migrated per day"
    figure, axes = _figure()
    if figures.history:
        axes.bar([day.day for day in figures.history], [day.migrated for day in figures.history])
        axes.set_ylabel("Devices per day")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.autofmt_xdate()
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("migrations-per-day.png", title, _png(figure))


def _by_device_type(figures: ProgressFigures) -> Chart:
    title = "Devices by type and migration state"
    figure, axes = _figure()
    types = sorted(figures.by_device_type)
    if types:
        bottoms = [0] * len(types)
        for state in MigrationState:
            counts = [figures.by_device_type[name].get(state.value, 0) for name in types]
            axes.bar(types, counts, bottom=bottoms, label=state.value, color=STATE_COLOURS[state])
            bottoms = [low + count for low, count in zip(bottoms, counts, strict=True)]
        axes.set_ylabel("Devices")
        axes.legend()
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("by-device-type.png", title, _png(figure))


def _models_by_state(figures: ProgressFigures) -> Chart:
    title = "Device Models by state"
    figure, axes = _figure()
    states = sorted(figures.models_by_state)
    if states:
        axes.bar(states, [figures.models_by_state[state] for state in states])
        axes.set_ylabel("Device Models")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(axis="x", labelrotation=20)
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("models-by-state.png", title, _png(figure))


def _failures(figures: ProgressFigures) -> Chart:
    title = "Failed attempts by error kind, largest first"
    figure, axes = _figure()
    if figures.failures:
        # barh draws the first item at the bottom, so reverse to put the largest on top.
        ordered = list(reversed(figures.failures))
        axes.barh([item.code for item in ordered], [item.failures for item in ordered])
        axes.set_xlabel("Failed attempts")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("failures-by-error-kind.png", title, _png(figure))


def _forecast(figures: ProgressFigures) -> Chart:
    title = "Forecast at the recent rate against the period end"
    forecast = figures.forecast
    figure, axes = _figure()
    if figures.history:
        days = [day.day for day in figures.history]
        done = figures.history[-1].migrated_total
        axes.plot(days, [day.migrated_total for day in figures.history], label="Migrated")
        horizon = forecast.completion_date or forecast.period_end
        horizon = max(horizon, forecast.period_end)
        if forecast.rate_per_day > 0:
            steps = (horizon - forecast.as_of).days
            projected_days = [forecast.as_of + timedelta(days=n) for n in range(steps + 1)]
            projected = [
                done + min(forecast.eligible_remaining, forecast.rate_per_day * n)
                for n in range(steps + 1)
            ]
            axes.plot(projected_days, projected, linestyle="--", label="Projected")
        axes.axhline(
            done + forecast.eligible_remaining,
            color="grey",
            linestyle=":",
            label="All eligible devices migrated",
        )
        axes.axvline(forecast.period_end, color="red", label="Period end")
        axes.set_ylabel("Devices migrated")
        axes.legend()
        figure.autofmt_xdate()
    else:
        _no_data(axes)
    axes.set_title(title)
    return Chart("forecast.png", title, _png(figure))


def render_progress_charts(figures: ProgressFigures) -> list[Chart]:
    """Draw every chart of the progress report."""
    return [
        _over_time(figures),
        _per_day(figures),
        _by_device_type(figures),
        _models_by_state(figures),
        _failures(figures),
        _forecast(figures),
    ]
