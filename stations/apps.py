from __future__ import annotations

from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the project's deploy checks

        # Registers the app's Celery tasks in every process: the rules queue them by name.
        from . import tasks  # noqa: F401
