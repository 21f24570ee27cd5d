from __future__ import annotations

from django.apps import AppConfig


class ParcelsConfig(AppConfig):
    name = "parcels"
    default_auto_field = "django.db.models.BigAutoField"
