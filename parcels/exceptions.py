"""Domain errors. Each carries a stable `code` (for the API and tests) and a message for people."""

from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """Something a person or partner asked for cannot be done; nothing was changed."""

    code = "error"

    def __init__(self, message: str | Promise, *, code: str | None = None, **context: object):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        self.context = context

    def __str__(self) -> str:
        return str(self.message)


class ParcelError(DomainError):
    """A parcel cannot be moved as asked."""

    code = "parcel_error"


class ParcelNotFound(ParcelError):
    """No parcel matches what was scanned or typed (within the caller's station or partner)."""

    code = "not_found"


class WrongStatus(ParcelError):
    """The parcel exists but is in a state the action cannot start from."""

    code = "wrong_status"


class StationUnavailable(ParcelError):
    """The station cannot take parcels: it is not active, or its shelf is full."""

    code = "station_unavailable"


class InvalidInput(ParcelError):
    """The request is missing something or contradicts itself."""

    code = "invalid"
