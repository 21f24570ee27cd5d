"""Pickup credentials: the token in the pickup link and QR, and the 6-digit counter code."""

from __future__ import annotations

import re
import secrets
from collections.abc import Container

TOKEN_BYTES = 24  # 192 random bits; token_urlsafe gives 32 characters.
CODE_LENGTH = 6
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_LINK_RE = re.compile(r"/p/([A-Za-z0-9_-]{20,64})/?(?:[?#].*)?$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_code(taken: Container[str]) -> str:
    """A random 6-digit code not in `taken` (the codes on the station's shelf now)."""
    while True:
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        if code not in taken:
            return code


def is_code(value: str) -> bool:
    return len(value) == CODE_LENGTH and value.isascii() and value.isdigit()


def token_from_scan(value: str) -> str | None:
    """The token in what a scanner read: a whole pickup link (from the QR) or a bare token."""
    value = value.strip()
    match = _LINK_RE.search(value)
    if match:
        return match.group(1)
    if _TOKEN_RE.match(value):
        return value
    return None


def qr_image(data: str):  # returns a PIL image
    """The QR code for `data` as a PIL image (PNG for e-mails), dark on white, scannable size."""
    import qrcode

    return qrcode.make(
        data, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4
    )


def qr_svg(data: str) -> str:
    """The QR code for `data` as an inline SVG that scales to its container (dark on white)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    svg = image.to_string(encoding="unicode")
    # Drop the fixed size in mm so CSS decides; keep the viewBox so it scales crisply.
    svg = _SVG_SIZE_RE.sub("", svg, count=2)
    return svg.replace("<svg ", '<svg role="img" class="qr-svg" ', 1)


_SVG_SIZE_RE = re.compile(r'\s(?:width|height)="[^"]*"')
