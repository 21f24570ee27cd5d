"""Opening hours: per weekday (0 = Monday) a list of [opens, closes] pairs as "HH:MM" strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _

WEEKDAYS = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]


def intervals(hours: dict[str, Any], weekday: int) -> list[tuple[dt.time, dt.time]]:
    """The opening intervals of one weekday; empty when closed."""
    return [
        (dt.time.fromisoformat(opens), dt.time.fromisoformat(closes))
        for opens, closes in hours.get(str(weekday), [])
    ]


def is_open(hours: dict[str, Any], at: dt.datetime) -> bool:
    """Whether the station is open at `at`, which must be in the station's time zone."""
    now = at.time()
    return any(opens <= now < closes for opens, closes in intervals(hours, at.weekday()))


def describe_day(hours: dict[str, Any], weekday: int) -> str:
    spans = intervals(hours, weekday)
    if not spans:
        return str(_("Closed"))
    return ", ".join(f"{o:%H:%M}–{c:%H:%M}" for o, c in spans)


def week(hours: dict[str, Any]) -> list[tuple[str, str]]:
    """(weekday name, hours) for the seven days, for display."""
    return [(str(WEEKDAYS[d]), describe_day(hours, d)) for d in range(7)]
