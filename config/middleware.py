"""Project-wide request checks that run before any view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse


class NulPathMiddleware:
    """A path with a NUL character in it names nothing: 404, as any unknown address.

    PostgreSQL text cannot hold NUL, so looking up a tracking number or a token that contains one
    fails in the database instead of finding nothing. Forms and API serializers refuse NUL in what
    they read, and views clean the query parameters they search with; the path is checked here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            if request.path_info.startswith("/api/"):  # the API's error shape
                return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
            raise Http404
        return self.get_response(request)
