# Local stubs for django-scopes 2.1 (the package ships no types): enough for the apps' model
# managers and the scope helpers to type-check. At run time `ScopedManager(...)` is a function
# that builds a subclass of the manager class it is given and returns an instance; typed as a
# class here so django-stubs' plugin sees a `Manager` on the model and resolves its relations.
from contextlib import AbstractContextManager
from typing import Any, Self, TypeVar

from django.db import models

_T = TypeVar("_T", bound=models.Model)

version: str

class ScopeError(Exception): ...

class ScopedManager(models.Manager[_T]):
    def __init__(self, _manager_class: type[models.Manager[Any]] = ..., **scopes: str) -> None: ...
    def with_scope(self, **scope: Any) -> Self: ...
    def with_scopes_disabled(self) -> Self: ...

def get_scope() -> dict[str, Any]: ...
def scope(**scope_kwargs: Any) -> AbstractContextManager[None]: ...
def scopes_disabled() -> AbstractContextManager[None]: ...

__all__ = ["ScopeError", "ScopedManager", "get_scope", "scope", "scopes_disabled", "version"]
