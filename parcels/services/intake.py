"""What a new parcel needs, checked before anything is written: the tracking number, the
recipient and the language. Shared by the announcements and the unannounced check-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber, to_python

from parcels import tracking
from parcels.exceptions import InvalidInput, TooLarge
from parcels.models import Parcel
from partners.models import Partner
from stations import sizes
from stations.models import Station


def tracking_number(value: object, *, empty_message: str) -> str:
    """The normalized tracking number, or InvalidInput: every way a number gets stored comes
    through here, so none outside the rules (parcels/tracking.py) can be, and nothing is cut."""
    number = tracking.normalize(value) if isinstance(value, str) else None
    if number == "":
        raise InvalidInput(empty_message, field="tracking_number")
    if number is None or not tracking.is_valid(number):
        raise InvalidInput(tracking.INVALID_MESSAGE, field="tracking_number")
    return number


def _parse_phone(raw: str | PhoneNumber) -> PhoneNumber:
    phone = to_python(raw)
    if not isinstance(phone, PhoneNumber) or not phone.is_valid():
        raise InvalidInput(
            _("Enter a valid phone number, with the country code if it is not local."),
            code="invalid_phone",
            field="recipient_phone",
        )
    return phone


def _column_text(value: str, field: str) -> str:
    """`value` without surrounding space, if the parcel's column can hold it (PostgreSQL text
    has no NUL, and the column has a length)."""
    value = value.strip()
    if "\x00" in value:
        raise InvalidInput(_("This text contains a character that is not allowed."), field=field)
    column = Parcel._meta.get_field(field)
    assert isinstance(column, models.Field)  # a text column of the parcel, not a relation
    limit = column.max_length
    if limit is not None and len(value) > limit:
        raise InvalidInput(_("Use at most %(limit)d characters.") % {"limit": limit}, field=field)
    return value


@dataclass(frozen=True)
class Recipient:
    """The buyer of a new parcel, as given (new_parcel checks it)."""

    name: str
    phone: str | PhoneNumber
    email: str
    language: str


def new_parcel(
    partner: Partner,
    station: Station,
    tracking_number: str,
    recipient: Recipient,
    *,
    now: dt.datetime,
    size: object = "",
    measured: sizes.Measures = sizes.UNMEASURED,
) -> Parcel:
    """An unsaved `announced` parcel, after checking what a new parcel needs: an active partner,
    the recipient's name and a valid phone number, and a language we write messages in. The
    tracking number is already normalized (`tracking_number`).

    Everything the database would refuse is refused here, with the field's message: a batch
    inserts its parcels together, and one refused row would abort them all.
    """
    if not partner.active:
        raise InvalidInput(_("This partner is not active."), code="partner_inactive")
    if not tracking.is_valid(tracking_number):
        raise InvalidInput(tracking.INVALID_MESSAGE, field="tracking_number")
    recipient_name = _column_text(recipient.name, "recipient_name")
    if not recipient_name:
        raise InvalidInput(_("Enter the recipient's name."), field="recipient_name")
    phone = _parse_phone(recipient.phone)
    recipient_email = _column_text(recipient.email, "recipient_email")
    if recipient.language not in Parcel.Language.values:
        raise InvalidInput(_("Unknown language."), field="language")
    size_class = parcel_size(size, measured)
    return Parcel(
        partner=partner,
        station=station,
        tracking_number=tracking_number,
        recipient_name=recipient_name,
        recipient_phone=phone,
        recipient_phone_last4=str(phone.national_number)[-4:],
        recipient_email=recipient_email,
        language=recipient.language,
        size=size_class,
        length_cm=measured.length_cm,
        width_cm=measured.width_cm,
        height_cm=measured.height_cm,
        weight_g=measured.weight_g,
        status=Parcel.Status.ANNOUNCED,
        created_at=now,
        updated_at=now,
    )


MAX_EDGE_CM, MAX_WEIGHT_G = 1_000, 1_000_000  # what a measure can be at all (columns' range)
_EDGES = ("length", "width", "height")


def measures(values: Mapping[str, object]) -> sizes.Measures:
    """A parcel's measures from what a partner sent: `dimensions_cm`, an object of `length`,
    `width` and `height`, and `weight_g`, each left out or null when unknown. Whole numbers
    from 1, and all three edges or none. InvalidInput names the field."""
    dimensions = values.get("dimensions_cm") or {}
    if not isinstance(dimensions, Mapping) or (
        dimensions and any(dimensions.get(e) is None for e in _EDGES)
    ):
        raise InvalidInput(_("Give the length, width and height in cm."), field="dimensions_cm")
    given = {f"{e}_cm": _whole(dimensions.get(e), MAX_EDGE_CM, "dimensions_cm") for e in _EDGES}
    return sizes.Measures(
        **given, weight_g=_whole(values.get("weight_g"), MAX_WEIGHT_G, "weight_g")
    )


def _whole(value: object, top: int, field: str) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top
    ):
        raise InvalidInput(_("A whole number from 1 to %(max)d.") % {"max": top}, field=field)
    return value


def parcel_size(size: object, found: sizes.Measures) -> str:
    """The size class a new parcel is stored with: the one given, or the smallest its measures
    fit if that is larger (a partner's class may be rough; the shelf holds what arrives); ""
    when neither tells. InvalidInput for a class that is not one; TooLarge when no class takes
    the parcel."""
    if size not in ("", None, *sizes.Size.values):
        raise InvalidInput(_("Choose S, M, L or XL."), field="size")
    needed = sizes.size_from(found)
    if needed is None:
        a, b, c, weight = sizes.limits()[sizes.Size.XL]
        raise TooLarge(
            _(
                "No station takes a parcel this big: at most %(a)d by %(b)d by %(c)d cm and "
                "%(kg)s kg."
            )
            % {"a": a, "b": b, "c": c, "kg": f"{weight / 1000:g}"}
        )
    if not size or (needed and sizes.ORDER.index(size) < sizes.ORDER.index(needed)):  # type: ignore[arg-type]
        return needed
    return str(size)


def already_announced_message(tracking_number: str) -> str:
    return _("Parcel %(tracking)s was already announced to another station.") % {
        "tracking": tracking_number
    }


def station_inactive_message(station: Station) -> str:
    return _("%(station)s is not taking parcels.") % {"station": station.name}
