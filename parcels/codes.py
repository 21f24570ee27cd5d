"""Pickup credentials: the token in the pickup link and QR, and the 6-digit counter code."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Container
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Credential:
    """What a buyer showed at the counter, read once: a 6-digit `code` (typed, or read, with any
    spaces between the digits), or the `token` of a pickup link or bare token; neither when it is
    none of these."""

    code: str = ""
    token: str = ""

    @property
    def typed(self) -> bool:
        return bool(self.code)


def parse_credential(value: str) -> Credential:
    """The one reading of a counter scan, for every lookup and hand-over."""
    compact = "".join(value.split())
    if is_code(compact):
        return Credential(code=compact)
    return Credential(token=token_from_scan(value) or "")


def qr_image(data: str):  # returns a PIL image
    """The QR code for `data` as a PIL image (PNG for e-mails), dark on white, scannable size."""
    import qrcode

    return qrcode.make(
        data, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4
    )


# A pickup link's QR never changes (it is a function of the link alone), so a drawn one is kept
# as long as a parcel can wait on a shelf, extension included, with margin.
QR_CACHE_SECONDS = 30 * 24 * 3600


def qr_svg(data: str, *, cached: str | None = None) -> str:
    """The QR code for `data` as an inline SVG that scales to its container (dark on white).

    Drawn once per link for every web worker: kept in the shared Django cache under
    `qr_cache_key` (a digest, so no pickup token is a cache key). A caller that has read that key
    already (the pickup page reads it with its other keys in one round trip) passes what it
    found as `cached`. Choosing the mask is most of the drawing (qrcode tries all eight, as the
    standard asks), so the pickup notice's task draws it when the parcel reaches the shelf
    (`notices.send`), before the buyer opens the page.
    """
    from django.core.cache import cache

    if cached is not None:
        return cached
    key = qr_cache_key(data)
    svg = cache.get(key)
    if svg is None:
        svg = draw_qr_svg(data)
        cache.set(key, svg, QR_CACHE_SECONDS)
    return svg


def qr_cache_key(data: str) -> str:
    return "qr-svg:" + hashlib.sha256(data.encode()).hexdigest()


def draw_qr_svg(data: str) -> str:
    """One path of horizontal runs, built from the module matrix: drawing it through qrcode's SVG
    image factory (a rectangle per dark module) took a third of the pickup page's time."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # with the quiet border
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg role="img" class="qr-svg" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
