from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from partners.models import Partner

from . import tracking
from .models import Parcel


class ScanInput(forms.TextInput):
    """The scan field's text input, written out directly instead of through the widget
    templates: the counter redraws it after every scan, and those templates were 40% of the
    check-out panel's rendering (bench/profile.py). The HTML is the same as TextInput's."""

    def render(
        self, name: str, value: object, attrs: dict | None = None, renderer: object = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        html = format_html('<input type="{}" name="{}"', widget["type"], widget["name"])
        if widget["value"] is not None:
            html += format_html(' value="{}"', widget["value"])
        for key, val in widget["attrs"].items():  # as django/forms/widgets/attrs.html
            if val is True:
                html += format_html(" {}", key)
            elif val is not False:
                html += format_html(' {}="{}"', key, str(val))
        return html + mark_safe(">")


class TrackingNumberField(forms.CharField):
    """A tracking number by the network's one rule (parcels/tracking.py), cleaned to its
    normalized form. Without a `maxlength` on the input: the browser would cut a long scan to it
    without a word, and the clerk would check in a number that is not on the label."""

    default_error_messages = {"invalid": tracking.INVALID_MESSAGE}

    def clean(self, value: object) -> str:
        cleaned: str = super().clean(value)
        if cleaned in self.empty_values:
            return cleaned
        number = tracking.parse(cleaned)
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class ScanForm(forms.Form):
    """One input for a USB scanner (types, then Enter), the camera, or the keyboard."""

    tracking_number = TrackingNumberField(
        label=_("Tracking number"),
        widget=ScanInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "enterkeyhint": "go",
                "placeholder": _("Tracking number"),
            }
        ),
    )


class UnannouncedForm(forms.Form):
    """What a parcel nobody announced needs before it can go on the shelf."""

    partner = forms.ModelChoiceField(
        label=_("Partner (carrier)"),
        queryset=Partner.objects.filter(active=True).order_by("name"),
        empty_label=_("Choose the carrier on the label"),
    )
    recipient_name = forms.CharField(label=_("Recipient's name"), max_length=150)
    recipient_phone = PhoneNumberField(
        label=_("Recipient's phone"),
        region="SG",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(
        label=_("Language for the buyer's messages"),
        choices=Parcel.Language.choices,
        initial=Parcel.Language.EN,
    )


class CredentialForm(forms.Form):
    credential = forms.CharField(
        label=_("Pickup code or QR"),
        max_length=500,
        widget=ScanInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "inputmode": "text",
                "spellcheck": "false",
                "enterkeyhint": "go",
                "placeholder": _("QR or 6-digit code"),
            }
        ),
    )


class HandBackForm(forms.Form):
    courier_name = forms.CharField(label=_("Courier's name"), max_length=120)
    parcels = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)

    def __init__(self, *args: Any, parcel_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parcels = cast(forms.TypedMultipleChoiceField, self.fields["parcels"])  # declared above
        parcels.choices = [(pk, pk) for pk in parcel_ids]
        parcels.error_messages["required"] = _("Tick at least one parcel.")
