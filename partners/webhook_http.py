"""Where a webhook may be posted, and the connection that posts it there.

One check of a webhook URL for the API, the admin, the services and every send (`check_url`):
https only (http where WEBHOOK_ALLOW_HTTP), no credentials, an IDNA host within DNS's limits, and
every address the host resolves to public (unless WEBHOOK_ALLOW_PRIVATE), IPv6 forms that lead to
a private IPv4 address included. The POST then goes to an address that was checked, never to a
second lookup of the name (DNS rebinding), and follows no redirect.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

TIMEOUT_SECONDS = 10  # for the connection, the request and the answer


class UnsafeUrl(ValueError):
    """A webhook URL we refuse to store or to call; the message is for the partner or admin."""


# WebhookEndpoint.url's max_length; the limit applies to the stored (IDNA-encoded) form.
MAX_URL_LENGTH = 500
# RFC 1035: a host name of at most 253 characters (labels of at most 63 are checked by the codec).
MAX_HOST_LENGTH = 253


def normalize_url(url: str) -> str:
    """The webhook URL as it is stored and called, or UnsafeUrl saying what is wrong with it.

    The one syntactic check of a webhook URL (the API, the admin and the services use it through
    `check_url`, and every send repeats it): https only (http when WEBHOOK_ALLOW_HTTP), no
    credentials, a host that encodes to IDNA (international names are stored in their `xn--`
    form, which is what DNS, the Host header and TLS see), and the length limits."""
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # a port that is not a number from 0 to 65535 raises here
    except ValueError:
        raise UnsafeUrl(_("Enter a valid URL.")) from None
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.WEBHOOK_ALLOW_HTTP):
        raise UnsafeUrl(_("Use an https:// URL."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(_("Leave the user name and password out of the URL."))
    host = parts.hostname
    if not host:
        raise UnsafeUrl(_("The URL has no host."))
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        # The codec refuses an empty label, or one longer than 63 characters once encoded.
        raise UnsafeUrl(
            _(
                "The host name is not valid: each part between dots must be 1 to 63 characters "
                "long once encoded for DNS."
            )
        ) from None
    if len(ascii_host.rstrip(".")) > MAX_HOST_LENGTH:
        raise UnsafeUrl(
            _("The host name is too long (at most %(max)d characters once encoded for DNS).")
            % {"max": MAX_HOST_LENGTH}
        )
    if ascii_host != host:
        netloc = ascii_host if port is None else f"{ascii_host}:{port}"
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(
            _("The URL is too long (at most %(max)d characters once encoded for DNS).")
            % {"max": MAX_URL_LENGTH}
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise UnsafeUrl(_("Enter a valid URL.")) from None
    return url


AddrInfo = tuple[int, int, int, str, tuple]


def resolve(url: str) -> Sequence[AddrInfo]:
    """Resolve the host of a normalized URL once and check every address it gave; the connection
    goes to these addresses and nowhere else (see _PinnedHTTPConnection)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise UnsafeUrl(_("The host name does not resolve.")) from None
    if not infos:
        raise UnsafeUrl(_("The host name does not resolve."))
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for info in infos:
            # An IPv6 link-local address may carry its interface (fe80::1%eth0).
            if not is_public(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
                raise UnsafeUrl(_("The host resolves to a private or local address."))
    return infos


# IPv6 ranges that carry an IPv4 address inside (NAT64, IPv4-compatible) or that `is_global` still
# calls global although no public host lives there (site-local, deprecated but routable inside).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be posted to this address: a global one, and for IPv6 one that does
    not lead to a non-global IPv4 address through a translation (mapped, 6to4, Teredo, NAT64)."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address in _SITE_LOCAL or address in _LOCAL_NAT64:
        return False
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        embedded.append(address.teredo[1])
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(v4 is None or v4.is_global for v4 in embedded)


def check_url(url: str) -> str:
    """The webhook URL to store, or UnsafeUrl: refuses URLs a partner must not make us call
    (see normalize_url), and hosts that resolve to a private, loopback, link-local or otherwise
    non-public address (unless WEBHOOK_ALLOW_PRIVATE). Each send checks again (deliver)."""
    url = normalize_url(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        resolve(url)
    return url


# Certificates are verified against the URL's host name (create_default_context's default).
_tls_context = ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to addresses resolved and checked beforehand (`resolve`).

    The host name is never looked up again: a second lookup could answer a private address
    (DNS rebinding). The name is still what the Host header, TLS SNI and the certificate check
    use. http.client follows no redirects: a redirect is an answer, not a new address to post to.
    """

    def __init__(
        self, host: str, port: int | None, *, addresses: Sequence[AddrInfo], timeout: float
    ):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def _connect_pinned(self) -> socket.socket:
        error: OSError = OSError("no address to connect to")
        for family, socktype, proto, _canonname, sockaddr in self.addresses:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error

    def connect(self) -> None:
        self.sock = self._connect_pinned()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        sock = self._connect_pinned()
        try:
            self.sock = _tls_context.wrap_socket(sock, server_hostname=self.host)
        except Exception:
            sock.close()
            raise


def post(
    url: str, addresses: Sequence[AddrInfo], body: str, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST `body` to `url` at one of its checked `addresses`: (status, error), status None when
    no answer came (the error says why), error empty for a 2xx."""
    parts = urllib.parse.urlsplit(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Always an explicit port: without one, http.client reads it from the host, and the host of
    # an IPv6 URL ("2001:db8::1") ends in what looks like a port.
    connection = connection_class(
        parts.hostname or "",
        parts.port or connection_class.default_port,
        addresses=addresses,
        timeout=TIMEOUT_SECONDS,
    )
    try:
        connection.request("POST", target, body=body.encode(), headers=headers)
        status = connection.getresponse().status
    except Exception as exc:  # any failure to talk to the endpoint is one failed attempt
        reason = getattr(exc, "reason", "") or exc
        return None, f"{type(exc).__name__}: {reason}"[:300]
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"
