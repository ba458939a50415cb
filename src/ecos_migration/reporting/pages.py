"""Self-contained HTML pages: inline CSS, images as data URIs, no script and no external link.

Every value is escaped with ``html.escape``, so text from the store cannot add markup.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecos_migration.reporting.charts import Chart
    from ecos_migration.reporting.progress import ProgressFigures

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: left; }
td.number { text-align: right; }
.late { color: #a00; font-weight: bold; } .on-track { color: #070; font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, int):
        return f'<td class="number">{value:,}</td>'
    return f"<td>{escape('' if value is None else str(value))}</td>"


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Return an HTML table with a header row."""
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def document(title: str, body: str) -> str:
    """Return a complete HTML document with the inline style sheet."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def _image(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return f'<img alt="{escape(chart.title)}" src="data:image/png;base64,{data}">'


def _forecast_section(figures: ProgressFigures) -> str:
    forecast = figures.forecast
    if forecast.completion_date is None:
        verdict = (
            '<p class="late">At the recent rate of 0 devices a day the eligible devices '
            "will not be migrated.</p>"
        )
    elif forecast.on_track:
        verdict = (
            f'<p class="on-track">The eligible devices are forecast to be migrated by '
            f"{forecast.completion_date.isoformat()}, before the period end "
            f"{forecast.period_end.isoformat()}.</p>"
        )
    else:
        verdict = (
            f'<p class="late">The eligible devices are forecast to be migrated by '
            f"{forecast.completion_date.isoformat()}, after the period end "
            f"{forecast.period_end.isoformat()}.</p>"
        )
    rows = [
        ("Recent rate (devices per day)", f"{forecast.rate_per_day:,.1f}"),
        (
            "Rate window",
            f"{forecast.window_start.isoformat()} to {forecast.as_of.isoformat()} "
            f"(at most {forecast.window_days} days)",
        ),
        ("Eligible devices remaining", forecast.eligible_remaining),
        ("In-scope devices remaining", forecast.in_scope_remaining),
        ("Migration days left before the period end", forecast.migration_days_left),
        ("Devices stranded at the period end if nothing changes", forecast.stranded_at_end),
    ]
    note = (
        "<p>The forecast assumes the recent rate continues and that devices ineligible today "
        "stay ineligible; those devices count as stranded.</p>"
    )
    return verdict + table(("Figure", "Value"), rows) + note


def progress_page(figures: ProgressFigures, charts: Sequence[Chart]) -> str:
    """Return the progress report as one self-contained HTML page."""
    totals = [
        ("Devices in the inventory", figures.devices),
        ("Devices in scope", figures.in_scope),
        ("Migrated", figures.migrated),
        ("Migration in progress", figures.in_progress),
        ("Failed migrations awaiting remediation", figures.failed_migrations),
        ("Eligible today", figures.eligible),
        ("In scope and not yet holding ECoS", figures.in_scope_remaining),
    ]
    reasons = sorted(figures.ineligible_by_reason.items(), key=lambda item: (-item[1], item[0]))
    failures = [(item.code, item.description, item.failures) for item in figures.failures]
    body = (
        f"<p>Figures on {escape(figures.on.isoformat())}; period end "
        f"{escape(figures.period_end.isoformat())}.</p>"
        "<h2>Totals</h2>"
        + table(("Figure", "Devices"), totals)
        + "<h2>Forecast</h2>"
        + _forecast_section(figures)
        + "<h2>Charts</h2>"
        + "".join(f"<h3>{escape(chart.title)}</h3>{_image(chart)}" for chart in charts)
        + "<h2>Ineligible devices by primary reason</h2>"
        + table(("Reason", "Devices"), reasons)
        + "<h2>Failed attempts by error kind</h2>"
        + table(("Error code", "Description", "Failed attempts"), failures)
        + "<h2>Device Models by state</h2>"
        + table(("State", "Device Models"), sorted(figures.models_by_state.items()))
    )
    return document("ECoS Migration progress report", body)
