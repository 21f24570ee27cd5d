"""The parcels' errors, on config.errors' DomainError. Each carries a stable `code` (for the API
and tests) and a message for people."""

from __future__ import annotations

from config import errors
from config.errors import DomainError

__all__ = [
    "DomainError",
    "InvalidInput",
    "ParcelError",
    "ParcelNotFound",
    "StationUnavailable",
    "WrongStatus",
]


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


class TooLarge(ParcelError):
    """No size class takes the parcel (too big or too heavy): no station of the network can."""

    code = "too_large"


class InvalidInput(ParcelError, errors.InvalidInput):
    """The request is missing something or contradicts itself (about a parcel)."""

    code = "invalid"
