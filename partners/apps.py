from __future__ import annotations

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the app's Celery tasks in every process: the rules queue them by name.
        from . import tasks  # noqa: F401
