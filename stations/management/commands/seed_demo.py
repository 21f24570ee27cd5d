"""Demo data for `make run`: the same people, stations, partners and parcels every time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from parcels import services as parcel_services
from parcels.models import Parcel
from partners.models import Partner, Tariff
from stations import services as station_services
from stations.models import Membership, Station, User
from stations.tenancy import network_scope

PASSWORD = "stationkeeper"  # Demo logins only; this command is the only place that creates them.

STATIONS: list[dict[str, Any]] = [
    {
        "name": "Tiong Bahru Mart",
        "kind": Station.Kind.SHOP,
        "address": "55 Tiong Bahru Road, #01-12",
        "postal_code": "160055",
        "latitude": Decimal("1.285200"),
        "longitude": Decimal("103.831600"),
        "phone": "+6562221234",
        "capacity": 120,
        "opening_hours": {str(d): [["08:00", "21:00"]] for d in range(7)},
    },
    {
        "name": "Toa Payoh Newsstand",
        "kind": Station.Kind.NEWSSTAND,
        "address": "190 Lorong 6 Toa Payoh, #01-510",
        "postal_code": "310190",
        "latitude": Decimal("1.333100"),
        "longitude": Decimal("103.848300"),
        "phone": "+6562535678",
        "capacity": 60,
        # Closed on Sundays.
        "opening_hours": {str(d): [["07:00", "19:30"]] for d in range(6)},
    },
]
PARTNERS = [
    # name, slug, hold days, handover fee, return fee (cents)
    ("SwiftPost", "swiftpost", 7, 45, 20),
    ("LionExpress", "lionexpress", 5, 50, 25),
    ("Merlion Logistics", "merlion", 7, 40, 15),
]
RECIPIENTS = [
    ("Tan Wei Ling", "+6591234567", "zh-hans"),
    ("Nur Aisyah binte Rahman", "+6581234567", "ms"),
    ("Rajesh Kumar", "+6590011223", "en"),
    ("Chloe Lim", "+6597654321", "en"),
    ("Muhammad Hafiz", "+6588776655", "ms"),
    ("Li Jun", "+6592233445", "zh-hans"),
]


class Command(BaseCommand):
    help = "Create (or keep) the demo logins, stations, partners and parcels. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off. The demo logins have a published password!",
        )

    def handle(self, *args: object, force: bool, **options: object) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates logins with a published password, so it only runs with "
                "DJANGO_DEBUG=1 (or --force, on a database you are sure is not production)."
            )
        # A command works across the whole network, like the admin.
        with network_scope():
            created = self._seed()
        self._report(created)

    def _user(self, email: str, **extra: object) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            if extra.get("is_superuser"):
                user = User.objects.create_superuser(email, PASSWORD, **extra)
            else:
                user = User.objects.create_user(email, PASSWORD, **extra)
        return user

    @transaction.atomic
    def _seed(self) -> bool:
        if Station.objects.filter(slug="tiong-bahru-mart").exists():
            return False
        self._user("admin@example.com", full_name="Network Admin", is_superuser=True)
        owner = self._user("owner@example.com", full_name="Siti Owner")
        clerk = self._user("clerk@example.com", full_name="Kevin Clerk")

        stations = []
        for spec in STATIONS:
            station = station_services.station_apply(owner=owner, **spec)
            stations.append(station_services.station_approve(station=station))
        station_services.membership_add(station=stations[0], user=clerk, role=Membership.Role.CLERK)

        partners = []
        valid_from = timezone.localdate() - dt.timedelta(days=90)
        for name, slug, hold_days, handover_fee, return_fee in PARTNERS:
            partner = Partner.objects.create(name=name, slug=slug, default_hold_days=hold_days)
            Tariff.objects.create(
                partner=partner,
                handover_fee=handover_fee,
                return_fee=return_fee,
                currency="SGD",
                valid_from=valid_from,
            )
            partners.append(partner)

        # Parcels in every state, at both stations.
        n = 0
        for station in stations:
            for i, status in enumerate(
                ["announced"] * 3
                + ["at_station"] * 6
                + ["picked_up"] * 3
                + ["return_due", "returned", "cancelled"]
            ):
                n += 1
                partner = partners[i % len(partners)]
                name, phone, language = RECIPIENTS[n % len(RECIPIENTS)]
                parcel, _ = parcel_services.parcel_announce(
                    partner=partner,
                    station=station,
                    tracking_number=f"{partner.slug[:2].upper()}{202611000 + n:09d}SG",
                    recipient_name=name,
                    recipient_phone=phone,
                    language=language,
                    actor=partner,
                )
                self._advance(parcel, status, station, clerk if station == stations[0] else owner)
        return True

    def _advance(self, parcel: Parcel, status: str, station: Station, actor: User) -> None:
        if status == "announced":
            return
        if status == "cancelled":
            parcel_services.parcel_cancel(parcel=parcel, actor=parcel.partner)
            return
        parcel = parcel_services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=actor
        )
        if status == "picked_up":
            assert parcel.pickup_code is not None  # checked in just now, so it has its code
            parcel_services.parcel_hand_over(
                station=station, credential=parcel.pickup_code, actor=actor
            )
        elif status in ("return_due", "returned"):
            parcel_services.parcel_mark_return_due(
                parcel=parcel, reason=Parcel.ReturnReason.RECALLED, actor=parcel.partner
            )
            if status == "returned":
                parcel_services.parcels_hand_back(
                    station=station,
                    parcel_ids=[parcel.pk],
                    courier_name="Ahmad (courier)",
                    actor=actor,
                )

    def _report(self, created: bool) -> None:
        out = self.stdout.write
        out(self.style.SUCCESS("Demo data created.") if created else "Demo data already present.")
        out("Logins (password: stationkeeper):")
        out("  admin@example.com  network admin  -> /admin/")
        out("  owner@example.com  owner of Tiong Bahru Mart and Toa Payoh Newsstand")
        out("  clerk@example.com  clerk at Tiong Bahru Mart")
        with network_scope():
            parcel = (
                Parcel.objects.filter(status=Parcel.Status.AT_STATION)
                .select_related("station")
                .order_by("pk")
                .first()
            )
        if parcel is not None:
            out(
                f"A parcel on the shelf at {parcel.station.name}: {parcel.tracking_number}, "
                f"slot {parcel.shelf_label}, pickup code {parcel.pickup_code}"
            )
            out(f"Its pickup link: {settings.SITE_URL}/p/{parcel.pickup_token}/")
