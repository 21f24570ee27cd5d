"""The API's JSON parser: a body nested deeper than any request of ours needs is refused before
the standard parser recurses into it.

Python's json module recurses once per level of nesting; a 2 KB body of a thousand `[` raised
RecursionError (a server error). No operation takes more than a few levels (a batch of parcels is
three), so a bound far above that costs integrators nothing.
"""

from __future__ import annotations

import codecs
from itertools import accumulate
from typing import IO, Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import (  # type: ignore[attr-defined]  # get_encoding: not in the stubs
    JSONParser,
    get_encoding,
)
from rest_framework.utils import json

MAX_DEPTH = 32

# Every byte but a quote and the four brackets, and each bracket's step in depth.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1


class InvalidJson(ParseError):
    default_code = "invalid_json"


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text`, brackets inside strings not counted.

    With byte operations that run in C, as this reads every body (in UTF-8, where no byte of
    another character is a quote, a bracket or a backslash): the escapes that can hide a quote
    go first (pairs of backslashes, then escaped quotes; a backslash left escapes a letter), then
    all but quotes and brackets, and what is between two quotes was a string. Exact for valid
    JSON; invalid JSON is refused by json.loads anyway.
    """
    data = text.encode("utf-8", "surrogatepass")
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    outside_strings = b"".join(data.split(b'"')[0::2])
    return max(accumulate(map(_DEPTH_STEP.__getitem__, outside_strings)), default=0)


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser, with the nesting bounded and every failure a 400 `invalid_json`."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        try:
            # DRF's choice of charset, which refuses codecs that are not text (bz2_codec, …).
            encoding = get_encoding(parser_context or {})
            text = codecs.getreader(encoding)(stream).read()
        except (ParseError, UnicodeError) as exc:
            raise InvalidJson(_("The body is not JSON text in a known character set.")) from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise InvalidJson(
                _("The JSON nests arrays and objects more than %(max)d levels deep.")
                % {"max": MAX_DEPTH}
            )
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:  # whatever slips past the bound still answers 400
            raise InvalidJson(_("The JSON nests arrays and objects too deep.")) from None
        except ValueError as exc:
            raise InvalidJson(_("JSON parse error: %(error)s") % {"error": exc}) from None
