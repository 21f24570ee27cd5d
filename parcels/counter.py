"""The check-out counter: what a scan or a typed code names, and the hand-over of it with the
other parcels of the same recipient. The page (parcels/views.py) parses the form and renders
what these return; the lookup is `selectors.parcel_by_credential` (wrong-code limits included),
the moves are the services'."""

from __future__ import annotations

from django.utils.translation import gettext as _

from stations.models import Station, User

from . import codes, selectors, services
from .exceptions import DomainError, ParcelNotFound
from .models import Parcel


def parcel_for_hand_over(*, station: Station, scan: str, user_id: int) -> Parcel:
    """The parcel on the station's shelf that `scan` (a pickup link or token, or a 6-digit code)
    names, ready to hand over to the person `user_id` serves.

    Raises CodesPaused while typed codes are paused for that person or the station, ParcelNotFound
    when the scan names no parcel here (a typed code then counts as a wrong one), and WrongStatus
    when the parcel is no longer on the shelf for pickup (already picked up, due back, …)."""
    credential = codes.parse_credential(scan)
    parcel = selectors.parcel_by_credential(station=station, credential=credential, user_id=user_id)
    if parcel is None and credential.typed:
        raise ParcelNotFound(
            _("No parcel at this station has the code %(code)s. Check the digits.")
            % {"code": credential.code},
            code="unknown_code",
        )
    if parcel is None:
        raise ParcelNotFound(
            _("This is not the pickup QR code of a parcel at this station."), code="unknown_token"
        )
    if parcel.status != Parcel.Status.AT_STATION:
        raise services.wrong_status_error(parcel, "hand_over")
    return parcel


def parcels_hand_over_together(
    *, station: Station, scan: str, parcel: Parcel, actor: User, also: set[int]
) -> tuple[list[Parcel], list[str]]:
    """Hand over `parcel` (what `scan` named, as `parcel_for_hand_over` found it), then each other
    parcel of the same recipient on the shelf whose id is in `also` (the ones the clerk ticked),
    each its own hand-over. Returns (handed over, why a ticked one could not be); a refusal of
    `parcel` itself raises, as services.parcel_hand_over does. Ids that are not the recipient's
    parcels on the shelf are ignored."""
    done = [services.parcel_hand_over(station=station, credential=scan, actor=actor, found=parcel)]
    refused: list[str] = []
    for sibling in selectors.same_recipient_on_shelf(parcel=parcel) if also else []:
        if sibling.pk not in also:
            continue
        assert sibling.pickup_token is not None  # on the shelf: check-in gave it its token
        try:
            # Already read: passed as found, so it is not looked up again by its token.
            done.append(
                services.parcel_hand_over(
                    station=station, credential=sibling.pickup_token, actor=actor, found=sibling
                )
            )
        except DomainError as exc:
            refused.append(str(exc))
    return done, refused
