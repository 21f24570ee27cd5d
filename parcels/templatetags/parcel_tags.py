from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def masked(name: str) -> str:
    """First letter of each word, the rest hidden: enough to recognise a name, no more."""
    return " ".join(word[0] + "•" * min(len(word) - 1, 4) for word in (name or "").split())


@register.filter
def spaced_code(code: str | None) -> str:
    """A 6-digit code as two groups of three, easier to read out."""
    return f"{code[:3]} {code[3:]}" if code else ""
