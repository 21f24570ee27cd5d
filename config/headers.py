"""The site-wide Content-Security-Policy and Permissions-Policy, which settings.py sends on every
response (django-csp, django-permissions-policy); the few pages allowed more say so in
config/policies.py.
"""

from __future__ import annotations

# Scripts, styles and everything else only from our own origin, no inline script or style
# (templates keep behaviour in static/js and looks in static/css), no plugins, no framing, forms
# post only back to us. The scanning pages add 'wasm-unsafe-eval' for the camera decoder's
# WebAssembly.
CSP_DIRECTIVES: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# The features no page may use, nor let an embedded frame use. The scanning pages allow the
# camera and the station application the location, for our own origin only.
DENIED_FEATURES = (
    "accelerometer",
    "autoplay",
    "browsing-topics",
    "camera",
    "display-capture",
    "encrypted-media",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
