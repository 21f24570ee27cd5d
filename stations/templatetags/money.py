from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()

# Currencies whose minor unit is not a hundredth.
_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "IDR": 0, "BHD": 3, "KWD": 3}


@register.filter
def money(amount: int | None, currency: str) -> str:
    """An integer of minor units as a readable amount, e.g. 1234, "SGD" → "SGD 12.34"."""
    exponent = _EXPONENT.get(currency, 2)
    value = (amount or 0) / (10**exponent)
    return f"{currency} {number_format(value, decimal_pos=exponent, force_grouping=True)}"
