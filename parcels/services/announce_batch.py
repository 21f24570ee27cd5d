"""Announcing up to 1,000 parcels at once, each item judged as `parcel_announce` would judge it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

from parcels.exceptions import InvalidInput, TooLarge
from parcels.lifecycle import TRANSITIONS
from parcels.models import Parcel
from partners.models import Partner
from stations.models import Station

from . import intake
from .announce import confirm_unannounced
from .events import Actor, parcel_events_record


def parcels_announce_batch(
    *, partner: Partner, items: Sequence[Mapping[str, Any]], actor: Actor = None
) -> list[dict[str, Any]]:
    """Announce up to 1,000 parcels at once. Returns one result per item, in order:
    `{"status": "created" | "exists", "parcel": Parcel}` or `{"status": "error", "code", "errors"}`.

    Items are independent: each is checked on its own, in the order and with the codes and
    messages of `parcel_announce` (an unknown station, then a number announced elsewhere, then an
    inactive station, then the parcel's own fields), and a bad item is reported and leaves nothing
    behind. Every check the database would make is made first, so the good items always go in,
    with one INSERT (plus one for their events). A tracking number already announced to the
    same station is "exists"; to another station it is an error.
    """
    announce = TRANSITIONS["announce"]
    now = timezone.now()
    results: list[dict[str, Any]] = [{} for _ in items]
    numbers: dict[int, str] = {}  # index → normalized number, for the items that have one
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            results[index] = _item_error(
                "invalid", {"non_field_errors": [_("Each parcel is an object of its fields.")]}
            )
            continue
        try:
            numbers[index] = intake.tracking_number(
                item.get("tracking_number"), empty_message=_("Enter a tracking number.")
            )
        except InvalidInput as exc:
            results[index] = _input_error(exc)
    # Only text can be a slug: a list or an object here is that item's error below, not a crash.
    slugs = {slug for i in numbers if isinstance(slug := items[i].get("station"), str)}
    stations = {
        s.slug: s
        for s in Station.objects.filter(
            # PostgreSQL cannot compare text with NUL; no slug has one.
            slug__in=[s for s in slugs if isinstance(s, str) and "\x00" not in s]
        )
    }
    existing = {
        p.tracking_number: p
        for p in Parcel.objects.filter(partner=partner, tracking_number__in=set(numbers.values()))
    }
    to_create: dict[str, tuple[int, Parcel]] = {}
    for index, number in numbers.items():
        item = items[index]
        slug = item.get("station")
        station = stations.get(slug) if isinstance(slug, str) else None
        if station is None:
            results[index] = _item_error("invalid", {"station": [_("No station has this slug.")]})
            continue
        if number in existing:
            found = existing[number]
            if found.station_id != station.pk:
                results[index] = _item_error(
                    "already_announced",
                    {"tracking_number": [intake.already_announced_message(number)]},
                )
            else:
                if found.announced_at is None:
                    # A station took it in unannounced: this announcement confirms it.
                    found = confirm_unannounced(found, actor=actor)
                results[index] = {"status": "exists", "parcel": found}
            continue
        if number in to_create:
            results[index] = _item_error(
                "duplicate_in_batch",
                {"tracking_number": [_("The same tracking number is earlier in this batch.")]},
            )
            continue
        if not station.is_active:
            results[index] = _item_error(
                "station_inactive", {"station": [intake.station_inactive_message(station)]}
            )
            continue
        try:
            recipient = intake.Recipient(
                name=_item_text(item, "recipient_name"),
                phone=_item_text(item, "recipient_phone", phone=True),
                email=_item_text(item, "recipient_email"),
                language=_item_text(item, "language") or Parcel.Language.EN,
            )
            parcel = intake.new_parcel(
                partner,
                station,
                number,
                recipient,
                now=now,
                size=item.get("size") or "",
                measured=intake.measures(item),
            )
        except InvalidInput as exc:
            results[index] = _input_error(exc)
            continue
        except TooLarge as exc:
            results[index] = _item_error(exc.code, {"size": [str(exc)]})
            continue
        setattr(parcel, announce.timestamp_field, now)
        to_create[number] = (index, parcel)
    if not partner.active and to_create:
        for index, _parcel in to_create.values():
            results[index] = _item_error(
                "partner_inactive", {"non_field_errors": [_("This partner is not active.")]}
            )
        to_create = {}
    if to_create:
        with transaction.atomic():
            # Race: a concurrent request may insert some of the same numbers; those rows are
            # skipped here and reported as existing below.
            # In tracking-number order, so two batches with overlapping numbers take the unique
            # index's locks in the same order and cannot deadlock.
            Parcel.objects.bulk_create(
                [p for _n, (_i, p) in sorted(to_create.items())], ignore_conflicts=True
            )
            saved = {
                p.tracking_number: p
                for p in Parcel.objects.filter(partner=partner, tracking_number__in=list(to_create))
            }
            created = [p for p in saved.values() if p.created_at == now and p.announced_at == now]
            parcel_events_record(
                parcels=created, kind=announce.event_kind, actor=actor, occurred_at=now
            )
        created_numbers = {p.tracking_number for p in created}
        for number, (index, wanted) in to_create.items():
            found = saved[number]
            if number not in created_numbers and found.station_id != wanted.station_id:
                # Race: a concurrent request announced it to another station first.
                results[index] = _item_error(
                    "already_announced",
                    {"tracking_number": [intake.already_announced_message(number)]},
                )
                continue
            results[index] = {
                "status": "created" if number in created_numbers else "exists",
                "parcel": found,
            }
    # The stations were read above by slug: the results carry them, so nobody reads them again.
    by_id = {s.pk: s for s in stations.values()}
    for result in results:
        held = result.get("parcel")
        if held is not None and held.station_id in by_id:
            held.station = by_id[held.station_id]
    return results


def _item_error(code: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"status": "error", "code": code, "errors": errors}


def _input_error(exc: InvalidInput) -> dict[str, Any]:
    field = exc.context.get("field")
    return _item_error(
        exc.code, {field if isinstance(field, str) and field else "non_field_errors": [str(exc)]}
    )


def _item_text(item: Mapping[str, Any], field: str, *, phone: bool = False) -> Any:
    """A batch item's text field; missing or null is empty (as `parcel_announce`'s defaults)."""
    value = item.get(field)
    if value is None:
        return ""
    if isinstance(value, str) or (phone and isinstance(value, PhoneNumber)):
        return value
    raise InvalidInput(_("Enter text."), field=field)
