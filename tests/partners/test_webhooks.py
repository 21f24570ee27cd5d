"""Webhooks end to end: real POSTs to a server on localhost, verified as the docs say."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from parcels import services
from partners import webhook_http, webhooks
from partners.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from stations.tenancy import network_scope, station_scope

pytestmark = pytest.mark.django_db


class Receiver:
    """A partner's endpoint: records every POST; answers with the statuses it is given."""

    def __init__(self, answers: list[int]):
        self.answers = list(answers)
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                # Header names are case-insensitive; keep them lower-case for the assertions.
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append({"headers": headers, "body": body})
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def _make(answers=()):
        r = Receiver(list(answers))
        made.append(r)
        return r

    yield _make
    for r in made:
        r.close()


def verify_like_a_partner(secret: str, received: dict) -> dict:
    """What the README tells partners to do: verify with the standardwebhooks library."""
    headers = {k.lower(): v for k, v in received["headers"].items()}
    return Webhook(secret).verify(received["body"], headers)


def run_due(now=None) -> None:
    now = now or timezone.now()
    for delivery_id in webhooks.claim_due(now=now):
        webhooks.deliver(delivery_id, now=now)


def test_a_failed_delivery_is_retried_then_delivered_once(
    api, partner, station, announce, clerk, receiver
):
    hook = receiver(answers=[500])
    created = api.post(
        "/api/v1/webhooks/",
        {"url": hook.url, "events": ["parcel.checked_in", "parcel.picked_up"]},
        format="json",
    ).json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    parcel = announce(station)
    with station_scope(station.pk):
        services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    run_due()  # first attempt: the partner answers 500
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.due_at > timezone.now()  # retried later (5 s), not hammered
    run_due()
    assert len(hook.received) == 1  # not due yet
    run_due(now=timezone.now() + dt.timedelta(seconds=10))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    run_due(now=timezone.now() + dt.timedelta(days=2))  # nothing more to send
    assert len(hook.received) == 2
    first, second = hook.received
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]  # same message
    payload = verify_like_a_partner(secret, second)
    assert payload["type"] == "parcel.checked_in"
    assert payload["data"] == {
        "tracking_number": parcel.tracking_number,
        "status": "at_station",
        "station": station.slug,
        "return_reason": None,
        "occurred_at": payload["data"]["occurred_at"],
    }
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2
    log = api.get(f"/api/v1/webhooks/{created['id']}/deliveries/").json()["results"]
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 2)]


def test_only_subscribed_events_and_own_parcels_are_sent(
    api, other_api, station, on_shelf, announce, clerk, receiver, partner
):
    hook = receiver()
    api.post("/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.picked_up"]}, format="json")
    mine = on_shelf(station)  # checked_in: not subscribed
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=mine.pickup_code, actor=clerk)
    run_due()
    assert [json.loads(r["body"])["type"] for r in hook.received] == ["parcel.picked_up"]
    assert other_api.get("/api/v1/webhooks/").json() == []


def test_a_tampered_or_old_message_fails_verification(api, station, on_shelf, receiver):
    from standardwebhooks.webhooks import WebhookVerificationError

    hook = receiver()
    secret = api.post(
        "/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.checked_in"]}, format="json"
    ).json()["secret"]
    on_shelf(station)
    run_due()
    received = dict(hook.received[0])
    received["body"] = received["body"].replace("at_station", "picked_up")
    with pytest.raises(WebhookVerificationError):
        verify_like_a_partner(secret, received)


def test_rotation_signs_with_both_secrets_for_a_day(api, station, on_shelf, receiver):
    hook = receiver()
    created = api.post(
        "/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.checked_in"]}, format="json"
    ).json()
    rotated = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()
    assert rotated["secret"] != created["secret"]
    on_shelf(station)
    run_due()
    received = hook.received[0]
    assert len(received["headers"]["webhook-signature"].split(" ")) == 2
    verify_like_a_partner(created["secret"], received)  # the old secret still verifies
    verify_like_a_partner(rotated["secret"], received)


def test_an_endpoint_failing_for_a_day_is_switched_off_and_the_partner_told(
    api, partner, station, on_shelf, receiver, django_capture_on_commit_callbacks
):
    partner.contact_email = "tech@swiftpost.example"
    partner.save()
    hook = receiver(answers=[503] * 20)
    created = api.post(
        "/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.checked_in"]}, format="json"
    ).json()
    with network_scope():
        on_shelf(station)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for _step in range(len(webhooks.RETRY_SCHEDULE) + 1):
            run_due(now=now)
            now += dt.timedelta(hours=11)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", len(webhooks.RETRY_SCHEDULE) + 1)
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert not endpoint.active
    assert "every attempt for a day failed" in endpoint.disabled_reason
    [email] = mail.outbox
    assert email.to == ["tech@swiftpost.example"]
    assert hook.url in email.body
    # Fixed: switch it on again and redeliver.
    api.patch(f"/api/v1/webhooks/{created['id']}/", {"active": True}, format="json")
    hook.answers = []
    again = api.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/")
    assert again.status_code == 202
    run_due()
    assert WebhookDelivery.objects.filter(status="delivered").count() == 1
    assert hook.received[-1]["headers"]["webhook-id"] == hook.received[0]["headers"]["webhook-id"]


def test_https_is_required_outside_tests(api, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    response = api.post(
        "/api/v1/webhooks/",
        {"url": "http://partner.example/hook", "events": ["parcel.picked_up"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": ["Use an https:// URL."]}


def test_the_outbox_row_is_written_with_the_change_or_not_at_all(api, station, announce, receiver):
    from django.db import transaction

    hook = receiver()
    api.post("/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.cancelled"]}, format="json")
    parcel = announce(station)

    def change_then_fail() -> None:
        with transaction.atomic():
            services.parcel_cancel(parcel=parcel, actor=None)
            assert WebhookDelivery.objects.count() == 1  # written inside the change's transaction
            raise RuntimeError("the change fails after the move")

    with network_scope(), pytest.raises(RuntimeError, match="the change fails after the move"):
        change_then_fail()
    assert not WebhookDelivery.objects.exists()  # ... and gone with it
    with network_scope():
        services.parcel_cancel(parcel=parcel, actor=None)
    assert WebhookDelivery.objects.count() == 1


def test_running_a_delivery_twice_posts_once_and_keeps_the_retry_budget(
    api, station, on_shelf, receiver
):
    hook = receiver(answers=[500])
    api.post("/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.checked_in"]}, format="json")
    on_shelf(station)
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    assert webhooks.deliver(delivery.pk, now=now) == "pending"
    assert webhooks.deliver(delivery.pk, now=now) == "pending"  # the task delivered again
    delivery.refresh_from_db()
    assert (delivery.attempts, len(hook.received)) == (1, 1)


def test_retries_span_more_than_a_day():
    assert sum(webhooks.RETRY_SCHEDULE, dt.timedelta()) >= dt.timedelta(hours=24)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:6379/",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "http://partner.example/hook",
    ],
)
def test_private_addresses_and_plain_http_are_refused(api, settings, url):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api.post(
        "/api/v1/webhooks/", {"url": url, "events": ["parcel.picked_up"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    assert not WebhookEndpoint.objects.exists()


def test_redirects_are_not_followed(api, station, on_shelf, receiver):
    hook = receiver(answers=[302])
    api.post("/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.checked_in"]}, format="json")
    on_shelf(station)
    run_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert len(hook.received) == 1


def test_another_partners_webhooks_are_404(api, other_api, receiver):
    hook = receiver()
    created = api.post(
        "/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.picked_up"]}, format="json"
    ).json()
    n = created["id"]
    assert (
        other_api.patch(f"/api/v1/webhooks/{n}/", {"active": False}, format="json").status_code
        == 404
    )
    assert other_api.delete(f"/api/v1/webhooks/{n}/").status_code == 404
    assert other_api.post(f"/api/v1/webhooks/{n}/rotate-secret/").status_code == 404
    assert other_api.get(f"/api/v1/webhooks/{n}/deliveries/").status_code == 404
    assert WebhookEndpoint.objects.get(pk=n).active


# --- the address that was checked is the address called (DNS rebinding) -------------------------

PUBLIC_ADDRESS = "93.184.215.14"  # a global address; the guard below keeps the test off the net


@pytest.fixture
def rebinding_dns(monkeypatch):
    """A resolver for `*.test.example` that answers a public address to the first question and
    127.0.0.1 to every later one; connections go only to loopback, others are refused locally."""
    import socket

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    asked: list[str] = []
    connected: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if not str(host).endswith(".test.example"):
            return real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC_ADDRESS if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    def connect(sock, address):
        if isinstance(address, tuple):
            connected.append(address[0])
            if address[0] not in ("127.0.0.1", "::1"):
                raise ConnectionRefusedError("refused by the test (no traffic off this machine)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return asked, connected


def test_a_host_rebound_to_a_local_address_after_the_check_is_not_called(
    partner, station, on_shelf, receiver, settings, rebinding_dns
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    asked, connected = rebinding_dns
    hook = receiver()
    port = hook.server.server_port
    WebhookEndpoint.objects.create(
        partner=partner,
        url=f"http://rebind.test.example:{port}/hooks",
        events=["parcel.checked_in"],
    )
    on_shelf(station)
    run_due()
    assert hook.received == []  # the local server was never reached
    assert asked == ["rebind.test.example"]  # resolved once, for the check
    assert PUBLIC_ADDRESS in connected
    assert "127.0.0.1" not in connected[connected.index(PUBLIC_ADDRESS) :]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_host_resolving_to_a_local_address_at_send_time_fails_for_good(
    partner, station, on_shelf, settings, monkeypatch
):
    import socket

    settings.WEBHOOK_ALLOW_PRIVATE = False
    WebhookEndpoint.objects.create(
        partner=partner, url="https://inside.test.example/h", events=["parcel.checked_in"]
    )
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))
        ],
    )
    on_shelf(station)
    run_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error == "The host resolves to a private or local address."


class TlsReceiver(Receiver):
    """The partner's endpoint over https, with a certificate for `hooks.test.example` only."""

    def __init__(self, tmp_path, answers=()):
        import ssl
        import subprocess

        super().__init__(list(answers))
        self.cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(  # noqa: S603 - fixed arguments
            [
                "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=hooks.test.example",
                "-addext", "subjectAltName=DNS:hooks.test.example",
                "-keyout", str(key), "-out", str(self.cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server_names: list[str | None] = []
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    import socket
    import ssl

    hook = TlsReceiver(tmp_path)
    # Our TLS checks trust the test's certificate (and nothing else); both names resolve here.
    monkeypatch.setattr(webhook_http, "_tls_context", ssl.create_default_context(cafile=hook.cert))
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if str(host).endswith(".test.example"):
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield hook
    hook.close()


def test_https_goes_to_the_checked_address_with_the_name_for_tls_and_host(
    api, station, on_shelf, tls_receiver
):
    port = tls_receiver.server.server_port
    created = api.post(
        "/api/v1/webhooks/",
        {"url": f"https://hooks.test.example:{port}/hooks", "events": ["parcel.checked_in"]},
        format="json",
    ).json()
    on_shelf(station)
    run_due()
    assert WebhookDelivery.objects.get().status == "delivered"
    [received] = tls_receiver.received
    assert received["headers"]["host"] == f"hooks.test.example:{port}"
    assert tls_receiver.server_names == ["hooks.test.example"]  # SNI: the name, not the address
    verify_like_a_partner(created["secret"], received)


def test_https_to_a_name_the_certificate_does_not_cover_is_refused(
    partner, station, on_shelf, tls_receiver
):
    port = tls_receiver.server.server_port
    WebhookEndpoint.objects.create(
        partner=partner,
        url=f"https://other.test.example:{port}/hooks",
        events=["parcel.checked_in"],
    )
    on_shelf(station)
    run_due()
    delivery = WebhookDelivery.objects.get()
    assert tls_receiver.received == []
    assert delivery.status == "pending"
    assert "SSLCertVerificationError" in delivery.last_error


# --- one check of a webhook URL -----------------------------------------------------------------

LONG_LABEL = "https://" + "ü" * 60 + ".example/"  # 60 characters, but 68 once IDNA-encoded


@pytest.mark.parametrize("private", [True, False])
@pytest.mark.parametrize("url", [LONG_LABEL, "https://" + "ü" * 70 + ".example/"])
def test_a_host_name_too_long_for_dns_is_a_field_error(api, partner, settings, private, url):
    settings.WEBHOOK_ALLOW_PRIVATE = private
    created = api.post(
        "/api/v1/webhooks/", {"url": url, "events": ["parcel.picked_up"]}, format="json"
    )
    assert created.status_code == 400
    assert list(created.json()["errors"]) == ["url"]
    assert not WebhookEndpoint.objects.exists()

    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url="https://partner.example/h", events=["parcel.picked_up"]
    )
    n = endpoint.pk
    updated = api.patch(f"/api/v1/webhooks/{n}/", {"url": url}, format="json")
    assert updated.status_code == 400
    assert list(updated.json()["errors"]) == ["url"]
    assert WebhookEndpoint.objects.get(pk=n).url == "https://partner.example/h"


def test_the_message_for_a_host_name_too_long_for_dns(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api.post(
        "/api/v1/webhooks/", {"url": LONG_LABEL, "events": ["parcel.picked_up"]}, format="json"
    )
    assert response.json()["errors"]["url"] == [
        "The host name is not valid: each part between dots must be 1 to 63 characters long "
        "once encoded for DNS."
    ]


def test_an_international_host_name_is_stored_as_dns_sees_it(api):
    response = api.post(
        "/api/v1/webhooks/",
        {"url": "https://Bücher.example:8443/hooks?x=1", "events": ["parcel.picked_up"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["url"] == "https://xn--bcher-kva.example:8443/hooks?x=1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:pw@partner.example/h", "Leave the user name and password out of the URL."),
        ("https://partner.example:99999/h", "Enter a valid URL."),
        # 498 characters as typed, 510 once the host is IDNA-encoded
        ("https://" + "ü" * 20 + "." + "ö" * 20 + ".example/" + "p" * 440, "The URL is too long"),
    ],
)
def test_other_urls_we_do_not_call_are_field_errors(api, url, message):
    response = api.post(
        "/api/v1/webhooks/", {"url": url, "events": ["parcel.picked_up"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["url"][0].startswith(message)


class _V6Server(HTTPServer):
    import socket as _socket

    address_family = _socket.AF_INET6


def test_an_ipv6_url_is_posted_to_its_address_and_port(partner, station, on_shelf, monkeypatch):
    """An IPv6 literal's last group is not a port: with a port, and without (the scheme's), the
    delivery reaches the checked address with the right Host header, and nothing escapes it."""
    import socket

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _V6Server(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    public = "2a00:1450:4001:82b::200e"
    real_getaddrinfo = socket.getaddrinfo

    def to_our_server(host, *args, **kwargs):
        # The public literal leads to this test's server (no traffic leaves the machine).
        if host == public:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", to_our_server)
    try:
        WebhookEndpoint.objects.create(
            partner=partner, url=f"http://[::1]:{port}/hooks", events=["parcel.checked_in"]
        )
        WebhookEndpoint.objects.create(
            partner=partner, url=f"http://[{public}]/hooks", events=["parcel.checked_in"]
        )
        on_shelf(station)
        run_due()
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(received) == sorted([f"[::1]:{port}", f"[{public}]"])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "fec0::1",  # site-local
    ],
)
def test_ipv6_addresses_that_lead_to_private_ipv4_are_refused(address):
    import ipaddress

    assert not webhook_http.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2a00:1450:4001:82b::200e", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address):
    import ipaddress

    assert webhook_http.is_public(ipaddress.ip_address(address))


def test_registering_an_endpoint_looks_its_host_up_once(api, settings, monkeypatch):
    """The API checks the URL's form; the service checks where it resolves: one DNS lookup per
    write, and a private address is still a 400 on `url`."""
    import socket

    settings.WEBHOOK_ALLOW_PRIVATE = False
    asked = []

    def lookup(host, port, *args, **kwargs):
        asked.append(host)
        address = "10.1.2.3" if host.startswith("inside") else "93.184.215.14"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    body = {"url": "https://hooks.partner.example/h", "events": ["parcel.picked_up"]}
    assert api.post("/api/v1/webhooks/", body, format="json").status_code == 201
    assert asked == ["hooks.partner.example"]
    refused = api.post(
        "/api/v1/webhooks/", {**body, "url": "https://inside.partner.example/h"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"url": ["The host resolves to a private or local address."]}


def test_an_event_named_twice_is_refused_as_the_schema_says(api, receiver):
    hook = receiver(answers=[])
    response = api.post(
        "/api/v1/webhooks/",
        {"url": hook.url, "events": ["parcel.picked_up", "parcel.checked_in", "parcel.picked_up"]},
        format="json",
    )
    assert response.status_code == 400
    assert "parcel.picked_up is named more than once" in json.dumps(response.json())
    assert api.get("/api/v1/webhooks/").json() == []
    ok = api.post(
        "/api/v1/webhooks/", {"url": hook.url, "events": ["parcel.picked_up"]}, format="json"
    )
    assert ok.status_code == 201
