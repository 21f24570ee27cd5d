"""What every operation of the OpenAPI schema shares, added once instead of on each view.

The rate-limit headers come with every answer to a key, `Retry-After` with a 429, and every POST
takes an `Idempotency-Key` (partners/api/idempotency.py; a test checks every POST is wrapped), may
be a replay (`Idempotent-Replayed`) and may be a 409 while the first request runs.
"""

from __future__ import annotations

from typing import Any

from .idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER

HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {
        "description": "How many requests this API key may make in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "How many of them are left.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key`; nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any string you choose, unique per request, e.g. a UUID. A repeat of the same "
    "request with the same key, within 24 hours, gets the first response back (byte for byte) "
    "and does nothing again. The same key with another request is a 409 "
    "`idempotency_key_reused`; a repeat while the first still runs is a 409 "
    "`idempotency_key_in_progress` with `Retry-After`. A request that was refused or failed "
    "is not remembered.",
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
}

BAD_INPUT = {"description": "Bad input: `errors` says what to fix."}
CONFLICT = {
    "description": "Not allowed now; `code` says why (for a repeat with an Idempotency-Key: "
    "`idempotency_key_in_progress` or `idempotency_key_reused`)."
}


# On a query parameter (OpenApiParameter's `extensions`): an empty value is taken for none.
# drf-spectacular passes on only `x-` keys, so the hook turns it into `allowEmptyValue`.
EMPTY_IS_NONE = {"x-empty-is-none": True}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_content() -> dict:
    return {"application/json": {"schema": _ref("schemas", "Error")}}


def add_shared_headers(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update(HEADERS)
    components.setdefault("parameters", {})["IdempotencyKey"] = IDEMPOTENCY_KEY
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.get("responses", {})
            for parameter in operation.get("parameters", []):
                if parameter.pop("x-empty-is-none", False):
                    parameter["allowEmptyValue"] = True
            if method == "post":
                operation.setdefault("parameters", []).append(_ref("parameters", "IdempotencyKey"))
                # An Idempotency-Key over 255 characters is bad input on any POST.
                responses.setdefault("400", {**BAD_INPUT, "content": _error_content()})
                responses.setdefault(
                    "409",
                    {**CONFLICT, "content": _error_content()},
                )
            for code, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["RateLimit-Limit"] = _ref("headers", "RateLimit-Limit")
                headers["RateLimit-Remaining"] = _ref("headers", "RateLimit-Remaining")
                if code == "429" or (method == "post" and code == "409"):
                    headers["Retry-After"] = _ref("headers", "Retry-After")
                if method == "post" and code.startswith("2"):
                    headers[REPLAYED_HEADER] = _ref("headers", REPLAYED_HEADER)
    return result
