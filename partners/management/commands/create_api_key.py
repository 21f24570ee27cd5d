from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partners.models import Partner
from partners.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a partner and print it. The key is shown only this once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner_slug", help="The partner's slug, e.g. 'swiftpost'.")
        parser.add_argument("--name", default="", help="A label to tell keys apart.")

    def handle(self, *args: object, partner_slug: str, name: str, **options: object) -> None:
        partner = Partner.objects.filter(slug=partner_slug).first()
        if partner is None:
            known = ", ".join(Partner.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(
                f"No partner with slug {partner_slug!r}. Known partners: {known or 'none'}."
            )
        key, raw = api_key_create(partner=partner, name=name)
        self.stderr.write(
            f"API key {key.prefix}… for {partner.name}. Store it now: it is not shown again."
        )
        self.stdout.write(raw)
