"""Number formats shared by the terminal tables, report.md and the studies' documents.

One name for one meaning: :func:`fraction` prints a value in [0, 1] as it is (0.9315),
:func:`percent` prints it as a percentage (93.15%), :func:`number` any value with fixed digits;
each prints a missing value (None) as "-".
"""

from __future__ import annotations

MISSING = "-"


def number(value: float | None, digits: int = 4, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (a sign on positives too with ``signed``)."""
    if value is None:
        return MISSING
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fraction(value: float | None, digits: int = 4) -> str:
    """An accuracy or share in [0, 1] as the fraction it is: 0.9315."""
    return number(value, digits)


def percent(value: float | None, digits: int = 2) -> str:
    """An accuracy or share in [0, 1] as a percentage: 93.15%."""
    return MISSING if value is None else f"{value * 100:.{digits}f}%"


def signed(value: float | None, digits: int = 3) -> str:
    """A difference or correlation with its sign: +0.125."""
    return number(value, digits, signed=True)


def interval(summary: dict, digits: int = 4, difference: bool = True) -> str:
    """A ``mean_ci`` result as "mean [low, high]" (just the mean without an interval); signed
    for a difference."""
    show = (lambda v: signed(v, digits)) if difference else (lambda v: number(v, digits))
    ci = summary.get("ci95")
    return f"{show(summary['mean'])} [{show(ci[0])}, {show(ci[1])}]" if ci else \
        show(summary.get("mean"))


def csv_cell(value) -> str:
    """A CSV cell: floats with 6 decimals, None empty, anything else as text."""
    if value is None:
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)
