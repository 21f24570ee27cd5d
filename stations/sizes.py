"""Parcel size classes: S, M, L and XL, the unit a station's capacity is counted in.

A class is the largest parcel it holds, as three edges in cm (in any orientation: a parcel fits
when its edges, shortest first, are each within the class's) and a weight in g. The thresholds
are `settings.PARCEL_SIZES`; the defaults match the compartments of common parcel lockers
(8, 19 and 41 by 38 by 64 cm, up to 25 kg), so a counter's classes and a locker's are the same.
A parcel whose size nobody gave counts as M.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Size(models.TextChoices):
    S = "S", _("Small")
    M = "M", _("Medium")
    L = "L", _("Large")
    XL = "XL", _("Extra large")


UNKNOWN_COUNTS_AS = Size.M
ORDER = [Size.S, Size.M, Size.L, Size.XL]  # smallest first


@dataclass(frozen=True)
class Measures:
    """What a partner says of a parcel: edges in cm and weight in g, each possibly unknown."""

    length_cm: int | None = None
    width_cm: int | None = None
    height_cm: int | None = None
    weight_g: int | None = None

    @property
    def edges(self) -> tuple[int, int, int] | None:
        """The three edges, shortest first, or None unless all three are known."""
        known = [e for e in (self.length_cm, self.width_cm, self.height_cm) if e is not None]
        if len(known) != 3:
            return None
        a, b, c = sorted(known)
        return a, b, c


UNMEASURED = Measures()


def limits() -> Mapping[str, tuple[int, int, int, int]]:
    """Each class's largest edges (cm, shortest first) and weight (g), from the settings."""
    return {size: tuple(settings.PARCEL_SIZES[size]) for size in ORDER}  # type: ignore[misc]


def fits(measures: Measures, size: str) -> bool:
    """Whether a parcel of these measures goes in class `size` (what is unknown does not count
    against it)."""
    *edges, weight = limits()[size]
    known = measures.edges
    if known is not None and any(e > limit for e, limit in zip(known, edges, strict=True)):
        return False
    return measures.weight_g is None or measures.weight_g <= weight


def size_from(measures: Measures) -> str | None:
    """The smallest class these measures fit; "" when they say too little to tell (no edges,
    and a weight an M parcel may have), None when no class takes them (too big or too heavy)."""
    if measures.edges is None and (
        measures.weight_g is None or measures.weight_g <= limits()[UNKNOWN_COUNTS_AS][3]
    ):
        return ""
    return next((size for size in ORDER if fits(measures, size)), None)


def counted(size: str) -> str:
    """The class a parcel counts as: its own, or M when nobody gave it."""
    return size or UNKNOWN_COUNTS_AS
