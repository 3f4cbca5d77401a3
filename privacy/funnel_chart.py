"""The consent funnel drawn on the server as an accessible SVG (no script, no third-party host, CSP-safe):
one line per series over the weeks, a legend, a title and a description, and the same figures as a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .desk_selectors import Funnel

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 32, 16, 48
# distinguishable colours (Okabe-Ito), each series also has its own dash pattern so colour is not the only cue
STYLES = {
    "started": ("#0072B2", ""),
    "emails": ("#56B4E9", "6 3"),
    "approved": ("#009E73", ""),
    "refused": ("#D55E00", "2 3"),
    "expired": ("#7F7F7F", "8 4 2 4"),
    "withdrawn": ("#CC79A7", "4 4"),
}


def series_labels() -> dict[str, str]:
    return {
        "started": _("Child sign-ups started"),
        "emails": _("Parent emails sent"),
        "approved": _("Approved"),
        "refused": _("Refused"),
        "expired": _("Expired"),
        "withdrawn": _("Withdrawn"),
    }


@dataclass
class Line:
    key: str
    label: str
    colour: str
    dash: str
    points: str
    dots: list[tuple[float, float, int]]


def _nice_max(value: int) -> int:
    # a multiple of 4, so that the five gridlines (0, 1/4, 1/2, 3/4, max) carry whole numbers
    for step in (4, 8, 20, 40, 100, 200, 400, 1000, 2000, 4000, 10000, 20000, 40000, 100000):
        if value <= step:
            return step
    return -(-value // 4) * 4


def funnel_context(funnel: Funnel) -> dict[str, Any]:
    labels = series_labels()
    top = _nice_max(max([1, *[v for values in funnel.series.values() for v in values]]))
    n = len(funnel.weeks)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return round(LEFT + (plot_w * i / max(1, n - 1)), 1)

    def y(v: int) -> float:
        return round(TOP + plot_h - plot_h * v / top, 1)

    lines = []
    for key, values in funnel.series.items():
        colour, dash = STYLES[key]
        dots = [(x(i), y(v), v) for i, v in enumerate(values)]
        lines.append(Line(key, labels[key], colour, dash, " ".join(f"{a},{b}" for a, b, _v in dots), dots))
    ticks = [(y(top * k // 4), top * k // 4) for k in range(5)]
    week_labels = [(x(i), date_format(week, "M j")) for i, week in enumerate(funnel.weeks)]
    rows = [
        {"week": week, "values": [funnel.series[key][i] for key in funnel.series]}
        for i, week in enumerate(funnel.weeks)
    ]
    totals = {key: sum(values) for key, values in funnel.series.items()}
    summary = (
        _(
            "Over the last 12 weeks: %(started)d child sign-ups started, %(emails)d parent emails sent, "
            "%(approved)d approved, %(refused)d refused, %(expired)d expired, %(withdrawn)d withdrawn."
        )
        % totals
    )
    return {
        "chart": {"width": WIDTH, "height": HEIGHT, "left": LEFT, "bottom": HEIGHT - BOTTOM, "right": WIDTH - RIGHT},
        "lines": lines,
        "ticks": ticks,
        "week_labels": week_labels,
        "series_names": [labels[key] for key in funnel.series],
        "rows": rows,
        "totals": [totals[key] for key in funnel.series],
        "summary": summary,
        "open_by_age": funnel.open_by_age,
    }
