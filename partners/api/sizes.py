"""A parcel's size class and measures, as the partner API reads and shows them. The rules are the
service's (parcels.services.intake: measures, parcel_size); these fields only parse and describe."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from parcels.models import Parcel
from parcels.services import intake
from stations.sizes import Size


def _edge(help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=intake.MAX_EDGE_CM, help_text=help_text)


class DimensionsInput(serializers.Serializer):
    """The parcel's three edges in whole cm, in any order (the shortest is compared first)."""

    length = _edge("cm")
    width = _edge("cm")
    height = _edge("cm")


class SizeInput(serializers.Serializer):
    size = serializers.ChoiceField(
        choices=Size.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="S, M, L or XL, as the compartments of common parcel lockers (up to 8, 19 and "
        "41 by 38 by 64 cm; XL up to 60 by 80 by 120 cm and 30 kg). Left out: the smallest class "
        "the measures fit, or unknown (counted as M). One smaller than the measures need is raised "
        "to theirs.",
    )
    dimensions_cm = DimensionsInput(
        required=False, allow_null=True, default=None, help_text="All three edges, or leave out."
    )
    weight_g = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=intake.MAX_WEIGHT_G
    )


class DimensionsOutput(serializers.Serializer):
    length = serializers.IntegerField(source="length_cm")
    width = serializers.IntegerField(source="width_cm")
    height = serializers.IntegerField(source="height_cm")


class SizeOutput(serializers.Serializer):
    size = serializers.ChoiceField(
        choices=[("", "unknown"), *Size.choices], help_text='"": unknown, counted as M.'
    )
    dimensions_cm = serializers.SerializerMethodField()
    weight_g = serializers.IntegerField(allow_null=True)

    @extend_schema_field(DimensionsOutput(allow_null=True, help_text="null: not given."))
    def get_dimensions_cm(self, parcel: Parcel) -> dict | None:
        return None if parcel.length_cm is None else DimensionsOutput(parcel).data
