"""What a page may do beyond the site-wide Content-Security-Policy and Permissions-Policy.

The site-wide policies (config/headers.py) deny every powerful feature and all script evaluation;
the few pages that need one say so here, for our own origin only, so the exception stays next to
the view that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from csp.decorators import csp_update
from django.conf import settings
from django_permissions_policy.decorators import permissions_policy_override

View = TypeVar("View", bound=Callable[..., object])


def _csp_update(config: dict[str, list[str]]) -> Callable[[View], View]:
    # django-csp types its decorators as taking and returning a bare `(request) -> response`;
    # they wrap the view with functools.wraps and pass every argument on, so it keeps its type.
    return cast(Callable[[View], View], csp_update(config))


def _allow(feature: str) -> Callable[[View], View]:
    return permissions_policy_override({**settings.PERMISSIONS_POLICY, feature: ["self"]})


def uses_camera(view: View) -> View:
    """A scanning page: the camera, and compiling the barcode decoder's WebAssembly (the
    ponyfill instantiates zxing_reader.wasm, which CSP otherwise refuses)."""
    view = _csp_update({"script-src": ["'wasm-unsafe-eval'"]})(view)
    return _allow("camera")(view)


def uses_location(view: View) -> View:
    """A page that offers to fill in coordinates from the device's location."""
    return _allow("geolocation")(view)


def uses_data_images(view: View) -> View:
    """A page whose vendored stylesheet draws its icons as data: images (Swagger UI)."""
    return _csp_update({"img-src": ["data:"]})(view)
