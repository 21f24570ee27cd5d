"""Tracking numbers: how they are compared, and which ones the network takes. The one definition,
used by the services, the counter's forms, the API's serializers and its URLs.

Carriers print tracking numbers in ASCII letters and digits (UPU S10 `SP123456789SG`, `1Z…`,
all-digit ones), some with hyphens (`1234-5678-9012`). Anything else (a slash, a dot, an emoji, a
quote) cannot be a label's number, and would also break the per-parcel URLs. Scanners and people
add spaces and lower case, so those are taken away first; the rules apply to what is left, which
is what is stored.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 64  # Parcel.tracking_number's column

# Letters, digits and inner hyphens, MAX_LENGTH at most. Case-insensitive, so the URL converter
# matches exactly the numbers `parse` accepts, as typed (it upper-cases them).
PATTERN = rf"[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{MAX_LENGTH - 2}}}[A-Za-z0-9])?"
_VALID = re.compile(PATTERN)
# The same rule for a number as sent, before `normalize`: whitespace anywhere (it is taken out),
# and the length counted without it. The API's schema declares this, so that what it calls valid
# is exactly what the API takes.
RAW_PATTERN = rf"^\s*[A-Za-z0-9](?:(?:\s*[A-Za-z0-9-]){{0,{MAX_LENGTH - 2}}}\s*[A-Za-z0-9])?\s*$"

INVALID_MESSAGE = _(
    "A tracking number has 1 to 64 characters: letters A–Z, digits and hyphens, and starts and "
    "ends with a letter or a digit."
)


def normalize(value: str) -> str:
    """As scanners print them: no spaces anywhere, upper case.

    Only ASCII is upper-cased: some other letters grow or turn into ASCII when upper-cased
    (`ß` → `SS`, `ﬃ` → `FFI`, the long s → `S`), and a number must not pass the rules or change its
    length by becoming something the label does not say.
    """
    compact = "".join(value.split())
    return compact.upper() if compact.isascii() else compact


def is_valid(number: str) -> bool:
    """Whether a normalized number is one the network takes."""
    return number.isascii() and _VALID.fullmatch(number) is not None


def parse(value: object) -> str | None:
    """The normalized number in `value`, or None if it is not a tracking number we take."""
    if not isinstance(value, str):
        return None
    number = normalize(value)
    return number if is_valid(number) else None


class TrackingNumberConverter:
    """`<tracking:tracking_number>` in a URL: exactly the numbers `parse` accepts, so an address
    with anything else is a 404 before a view runs, and the view gets the normalized number."""

    regex = PATTERN

    def to_python(self, value: str) -> str:
        return normalize(value)

    def to_url(self, value: str) -> str:
        return value
