"""How people sign in here: a failed login counts towards the lockout only when the password was
really checked and was wrong, and the signed-in person is read for each request in one plain
statement."""

from __future__ import annotations

from typing import Any

from allauth.account import auth_backends as allauth_backends
from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import backends as auth_backends
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest

from config import sql

from .tenancy import known_session_user


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


class _SessionUser:
    """The signed-in person, read for every request from the id in the session: one indexed row
    in plain SQL (config/sql.py), not the ORM's query building, or none where the portal's
    middleware has read them already (known_user)."""

    def get_user(self, user_id: Any) -> Any:
        from .models import User  # models are not ready when settings name the backends

        user = known_session_user()
        if user is None or user.pk != user_id:
            user = sql.first(User, "t0.id = %s", [user_id])
        return user if user is not None and self.user_can_authenticate(user) else None  # type: ignore[attr-defined]


class ModelBackend(_SessionUser, auth_backends.ModelBackend):
    """Django's password backend (the admin's sign-in), with the session's user as above."""


class AuthenticationBackend(_SessionUser, allauth_backends.AuthenticationBackend):
    """allauth's backend (the portal's sign-in by e-mail), with the session's user as above."""
