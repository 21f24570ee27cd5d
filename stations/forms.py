from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from . import services
from .hours import WEEKDAYS, intervals
from .models import Station

DEFAULT_HOURS = {str(d): [["09:00", "21:00"]] for d in range(7)}


class OpeningHoursMixin(forms.Form):
    """Seven rows of "closed / opens / closes", stored as Station.opening_hours."""

    def _add_hours_fields(self, hours: dict[str, Any]) -> None:
        for day in range(7):
            spans = intervals(hours, day)
            self.fields[f"closed_{day}"] = forms.BooleanField(
                label=_("Closed"), required=False, initial=not spans
            )
            self.fields[f"opens_{day}"] = forms.TimeField(
                label=_("Opens"),
                required=False,
                initial=spans[0][0] if spans else dt.time(9),
                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            )
            self.fields[f"closes_{day}"] = forms.TimeField(
                label=_("Closes"),
                required=False,
                initial=spans[0][1] if spans else dt.time(21),
                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            )

    def hours_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "name": WEEKDAYS[d],
                "closed": self[f"closed_{d}"],
                "opens": self[f"opens_{d}"],
                "closes": self[f"closes_{d}"],
            }
            for d in range(7)
        ]

    def clean_hours(self) -> dict[str, list[list[str]]]:
        hours: dict[str, list[list[str]]] = {}
        for day in range(7):
            if self.cleaned_data.get(f"closed_{day}"):
                continue
            opens = self.cleaned_data.get(f"opens_{day}")
            closes = self.cleaned_data.get(f"closes_{day}")
            if opens is None or closes is None:
                self.add_error(f"opens_{day}", _("Enter both times, or tick Closed."))
                continue
            if closes <= opens:
                self.add_error(f"closes_{day}", _("Closing time must be after opening time."))
                continue
            hours[str(day)] = [[f"{opens:%H:%M}", f"{closes:%H:%M}"]]
        return hours


class StationApplicationForm(OpeningHoursMixin, forms.ModelForm):
    phone = PhoneNumberField(label=_("Phone"), region="SG")

    class Meta:
        model = Station
        fields = list(services.STATION_APPLICATION_FIELDS)
        help_texts = {
            "latitude": _("From any map app, e.g. 1.3521; or use your current location."),
            "longitude": _("e.g. 103.8198"),
            "capacity": _("How many parcels fit on your shelves."),
        }
        widgets = {
            "latitude": forms.NumberInput(attrs={"step": "0.000001"}),
            "longitude": forms.NumberInput(attrs={"step": "0.000001"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_hours_fields(DEFAULT_HOURS)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what clean() returns; django-stubs types it as maybe None
        data["opening_hours"] = self.clean_hours()
        return data


class StationSettingsForm(OpeningHoursMixin, forms.Form):
    phone = PhoneNumberField(label=_("Phone"), region="SG")
    capacity = forms.IntegerField(
        label=_("Shelf capacity"),
        min_value=1,
        max_value=5000,
        help_text=_("How many parcels fit on your shelves."),
    )

    def __init__(self, *args: Any, station: Station, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"phone": station.phone, "capacity": station.capacity})
        super().__init__(*args, **kwargs)
        self._add_hours_fields(station.opening_hours)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what clean() returns; django-stubs types it as maybe None
        data["opening_hours"] = self.clean_hours()
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address of the new clerk"))
