"""Cursor pagination for the API's lists, with cursors that cannot reach the database broken.

A cursor is base64 of `p=<position>&r=…&o=…`, and DRF puts the position into the list's filter
as it finds it: anyone can write one, and a position that is not a value of the ordering column
(`p=notadate` for a date, a NUL in a slug) failed in the database as a server error. Here the
position is read as the column's type first, and anything unreadable is one answer everywhere:
404 `invalid_cursor` (there is no such page; 404 as DRF answers a cursor it cannot decode, and as
the schema declares, since a cursor is an opaque string no client can check before sending).

`page_size`, where a list takes one, must be a whole number in 1..max_page_size: DRF would quietly
use the default or the maximum instead, so a client asking for 0 or 10,000 would never learn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class InvalidCursor(APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "invalid_cursor"
    default_detail = _(
        "This cursor is not one of ours. Use the `next` or `previous` link as given, or start "
        "again from the first page."
    )


class CheckedCursorPagination(CursorPagination):
    """CursorPagination whose cursor position must be a value of the ordering field."""

    _model: type[models.Model] | None = None
    page_size: int  # every list that pages sets one (DRF's default is None: no paging)

    def get_page_size(self, request: Request) -> int | None:
        if self.page_size_query_param and self.page_size_query_param in request.query_params:
            text = request.query_params[self.page_size_query_param]
            limit = self.max_page_size or self.page_size
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= limit):
                raise ValidationError(
                    {
                        self.page_size_query_param: [
                            _("A whole number from 1 to %(max)d.") % {"max": limit}
                        ]
                    }
                )
            return int(text)
        return self.page_size

    def paginate_queryset(
        self,
        queryset: models.QuerySet[Any, Any] | Sequence[Any],
        request: Request,
        view: Any = None,
    ) -> list[Any] | None:
        if isinstance(queryset, models.QuerySet):  # the API pages only querysets
            self._model = queryset.model  # decode_cursor sees only the request
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:  # DRF's answer to a cursor it cannot decode at all
            raise InvalidCursor from None
        if cursor is None or cursor.position is None:
            return cursor
        # The position is text, as DRF decodes it; djangorestframework-stubs declare it an int.
        position = self._checked_position(cursor.position)  # type: ignore[arg-type]
        return cursor._replace(position=position)  # type: ignore[arg-type]

    def _checked_position(self, position: str) -> str:
        """The position as the database can compare it with the ordering column."""
        assert self._model is not None
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        field = self._model._meta.get_field(ordering.lstrip("-"))
        assert isinstance(field, models.Field)  # an ordering column, not a reverse relation
        if "\x00" in position:  # PostgreSQL text has no NUL, whatever the column
            raise InvalidCursor
        if isinstance(field, models.DateTimeField):
            try:
                value = field.to_python(position)
                # As DRF writes positions: aware. A naive or far-out time is not ours; in UTC,
                # as PostgreSQL takes no offset beyond ±16 hours.
                if value is None or value.tzinfo is None:
                    raise InvalidCursor
                return str(value.astimezone(dt.UTC))
            except (DjangoValidationError, OverflowError, ValueError):
                raise InvalidCursor from None
        try:
            field.to_python(position)
        except DjangoValidationError:
            raise InvalidCursor from None
        return position
