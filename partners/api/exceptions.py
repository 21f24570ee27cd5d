"""One error shape for the whole API: {"code", "detail", "errors"?}."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.errors import DomainError

from .views.base import error_response


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {
            "code": "invalid",
            "detail": "Some fields are not valid; `errors` lists what to fix.",
            "errors": errors,
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail),
        }
    else:  # Http404, PermissionDenied from Django
        response.data = {
            "code": "not_found" if response.status_code == 404 else "error",
            "detail": str(response.data.get("detail", "")),
        }
    return response
