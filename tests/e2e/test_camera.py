"""The phone camera path: Chromium's fake camera shows a pickup QR, the vendored decoder (zxing
wasm, loaded from our own static files) reads it, and the parcel is found."""

from __future__ import annotations

import pytest
import qrcode
from playwright.sync_api import expect

from parcels.models import Parcel
from stations.tenancy import network_scope
from tests.e2e.conftest import CHROMIUM

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT = 640, 480


def qr_video(path, text: str, frames: int = 20) -> None:
    """A short Y4M clip (what Chromium's fake camera plays) of a black-on-white QR code."""
    qr = qrcode.QRCode(border=4)
    qr.add_data(text)
    matrix = qr.get_matrix()
    scale = min(WIDTH, HEIGHT) * 9 // 10 // len(matrix)
    left = (WIDTH - len(matrix) * scale) // 2
    top = (HEIGHT - len(matrix) * scale) // 2
    luma = bytearray(b"\xeb" * (WIDTH * HEIGHT))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * WIDTH + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale
    chroma = b"\x80" * (WIDTH * HEIGHT // 4)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def test_camera_reads_the_buyers_qr_code(
    live_server, playwright, tmp_path, station, clerk, on_shelf
):
    parcel = on_shelf(station)
    video = tmp_path / "qr.y4m"
    qr_video(video, f"{live_server.url}/p/{parcel.pickup_token}/")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.grant_permissions(["camera"], origin=live_server.url)
    outside = []

    def only_local(route):
        # Nothing may come from a CDN: the decoder and its wasm are vendored.
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", clerk.email)
    page.fill("input[name=password]", "pw-clerk-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/s/{station.slug}/check-out/")
    camera = page.locator("[data-scan-camera]")
    expect(camera).to_be_visible()
    camera.click()
    expect(page.locator(".found-card .slot-big")).to_have_text(parcel.shelf_label, timeout=20_000)
    page.get_by_role("button", name="Hand over").click()
    expect(page.locator(".result-card.ok")).to_contain_text(parcel.tracking_number)
    browser.close()
    assert outside == []
    with network_scope():
        assert Parcel.objects.get(pk=parcel.pk).status == "picked_up"
