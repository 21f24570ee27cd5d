"""The errors every app raises when a request cannot be done: a stable `code` (for the API and
tests) and a message for people. Here, below the apps, so that stations and partners need not
import parcels to refuse something; each app subclasses them (parcels.exceptions,
stations.services.StationError, stations.earnings.EarningsError)."""

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


class InvalidInput(DomainError):
    """The request is missing something or contradicts itself (the API answers 400)."""

    code = "invalid"
