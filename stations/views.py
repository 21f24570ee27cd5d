from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what Stationkeeper is, or the stations of the person logged in."""
    memberships = (
        list(selectors.memberships_for_user(user=request.user))
        if request.user.is_authenticated
        else []
    )
    return render(request, "home.html", {"memberships": memberships})
