"""How allauth signs people in here: a failed login counts towards the lockout only when the
password was really checked and was wrong."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        # allauth records a `login_failed` strike before asking the database and gives it back
        # only when the user is found; a database that cannot be reached would leave the strike
        # in place, and an outage of a few minutes would lock out everyone who tried to sign in.
        # The error still propagates: config.urls.server_error answers it with a 503 page.
        try:
            return super().authenticate(request, **credentials)
        except (OperationalError, InterfaceError):
            self._rollback_login_failed_rl_usage()
            raise
