"""The client's address behind our own proxies: one rule for every limit that counts per address.

Each proxy appends the address it received the request from to `X-Forwarded-For`, so only the
entries our proxies wrote can be believed: counting from the right, the one written by the first
of TRUSTED_PROXY_COUNT proxies is the client's. Whatever the client sent itself sits to the left
of it and is ignored; with no trusted proxy (the default) the header is ignored altogether and the
address is the connection's. allauth's login limits and DRF read the same count (settings.py),
so every limit agrees on who the client is.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent `request`, as our trusted proxies saw it."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.headers.get("X-Forwarded-For", "")
    if count <= 0 or not forwarded:
        return remote
    entries = forwarded.split(",")
    # Fewer entries than proxies: the request skipped one of them (or the count is too high);
    # the leftmost is then the best there is, as DRF's NUM_PROXIES also takes it.
    candidate = entries[-min(count, len(entries))].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Not an address (no proxy of ours writes that): the connection's address, then.
        return remote
