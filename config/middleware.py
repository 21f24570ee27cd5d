"""Project-wide request checks that run before any view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


class RejectNulMiddleware:
    """A NUL character in the path or the query string is a 400, not a server error.

    PostgreSQL text cannot hold NUL, so a lookup by such a value fails in the database. Forms and
    API serializers already refuse it in what they read; the URL is the one input that reaches
    lookups unchecked (a tracking number or token in the path, a filter in the query string).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            detail = "The address contains a NUL character."
            if request.path.startswith("/api/"):  # the API's error shape
                return JsonResponse({"code": "invalid", "detail": detail}, status=400)
            return HttpResponseBadRequest(detail)
        return self.get_response(request)
