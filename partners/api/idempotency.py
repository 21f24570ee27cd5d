"""`Idempotency-Key` on the partner API's POSTs: the first answer is kept and replayed.

A key is claimed (an `IdempotencyRecord` with status 0) before the work starts, so concurrent
repeats cannot both do it. The claim carries a lease: while it runs, a repeat is told the first
request is still in progress. Once it has lapsed, the next repeat may take the key over and do
the work, but only if the first request is really gone: on PostgreSQL the claimant also holds a
session advisory lock on the record for as long as it works, which its database connection
gives up when its process dies, so a request that is merely slow is never run twice. The answer
is stored as the exact bytes that were sent, so a replay is byte-for-byte the first response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config import sql
from partners.models import IdempotencyRecord, Partner

if TYPE_CHECKING:
    from partners.authentication import PartnerScopedMixin

# Longer than requests run (a batch of 1,000 takes a few seconds), so a repeat within it is told
# "in progress" without asking the database whether the claimant is alive.
LEASE = dt.timedelta(seconds=60)
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
# The advisory locks' first key: this module's namespace (the second is the record's id).
_LOCK_SPACE = 0x49444D  # "IDM"


def _lock(record: IdempotencyRecord) -> bool:
    """Hold the record's advisory lock for this connection; False if another session holds it
    (its request is still running). Always True where there are no advisory locks (SQLite):
    there the lease alone decides."""
    return sql.advisory_lock_try(_LOCK_SPACE, record.pk & 0x7FFFFFFF)


def _unlock(record: IdempotencyRecord) -> None:
    sql.advisory_unlock(_LOCK_SPACE, record.pk & 0x7FFFFFFF)


def request_digest(request: Request) -> str:
    """What makes two requests "the same": method, path and the raw body."""
    return hashlib.sha256(
        (request.method or "").encode() + b" " + request.path.encode() + b"\n" + request.body
    ).hexdigest()


def idempotency_key_claim(
    *, partner: Partner, key: str, request_hash: str, now: dt.datetime
) -> tuple[IdempotencyRecord, bool]:
    """Claim `key` for a request. Returns (record, claimed).

    Not claimed means another request holds or answered the key: the caller replays the record,
    or reports it as in progress or reused. A claimed record is locked for this connection until
    `idempotency_record_finish` or `idempotency_record_release`."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                # Race: the unique (partner, key) constraint lets exactly one request insert it.
                record = IdempotencyRecord.objects.create(
                    partner=partner,
                    key=key,
                    request_hash=request_hash,
                    status_code=0,
                    locked_until=now + LEASE,
                )
            _lock(record)  # nobody else can hold it yet: the record was not there
            return record, True
        except IntegrityError:
            pass
        try:
            found = IdempotencyRecord.objects.get(partner=partner, key=key)
            break
        except IdempotencyRecord.DoesNotExist:
            # Race: the claimant gave the key up (its request was refused) between our insert
            # and our read: claim it again.
            continue
    else:
        raise RuntimeError("an Idempotency-Key kept disappearing")  # pragma: no cover
    record = found
    if record.status_code or record.request_hash != request_hash or record.locked_until > now:
        return record, False
    # The lease lapsed: the claimant is gone, or only slow. Its advisory lock tells which.
    if not _lock(record):
        return record, False
    # Race: a conditional UPDATE lets exactly one repeat take the key over.
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, status_code=0, locked_until=record.locked_until
    ).update(locked_until=now + LEASE)
    if not taken:
        _unlock(record)
    record.refresh_from_db()
    return record, bool(taken)


def idempotency_record_finish(
    *, record: IdempotencyRecord, status_code: int, content: bytes, content_type: str
) -> bool:
    """Store the answer of a claimed key. False if the lease was lost to a takeover meanwhile
    (that request's answer is the one kept)."""
    # Race: only while the claim is still ours (the lease we were given is unchanged).
    try:
        return bool(
            IdempotencyRecord.objects.filter(
                pk=record.pk, status_code=0, locked_until=record.locked_until
            ).update(status_code=status_code, content=content, content_type=content_type)
        )
    finally:
        _unlock(record)


def idempotency_record_release(*, record: IdempotencyRecord) -> None:
    """Give a claimed key up: nothing was answered that a repeat should get back."""
    try:
        IdempotencyRecord.objects.filter(
            pk=record.pk, status_code=0, locked_until=record.locked_until
        ).delete()
    finally:
        _unlock(record)


def _conflict(code: str, detail: str, *, retry_after: int | None = None) -> Response:
    response = Response({"code": code, "detail": detail}, status=status.HTTP_409_CONFLICT)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _answer(record: IdempotencyRecord, request_hash: str, now: dt.datetime) -> HttpResponse:
    if record.request_hash != request_hash:
        return _conflict(
            "idempotency_key_reused", "This Idempotency-Key was used for a different request."
        )
    if record.status_code == 0:
        return _conflict(
            "idempotency_key_in_progress",
            "A request with this Idempotency-Key is still being handled; retry shortly.",
            retry_after=max(1, math.ceil((record.locked_until - now).total_seconds())),
        )
    response = HttpResponse(
        bytes(record.content), status=record.status_code, content_type=record.content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(method: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For an API view's `post`: honour an `Idempotency-Key` header (see the module docstring).

    Kept for 24 hours (the prune task). A request that raised (bad input, a refused action, a
    crash) or answered 5xx is not kept: nothing was done that a repeat must not do again."""

    @wraps(method)
    def wrapper(
        view: PartnerScopedMixin, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return method(view, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationError(
                {"Idempotency-Key": [f"At most {MAX_KEY_LENGTH} characters."]}, code="invalid"
            )
        digest = request_digest(request)
        now = timezone.now()
        record, claimed = idempotency_key_claim(
            partner=view.partner, key=key, request_hash=digest, now=now
        )
        if not claimed:
            return _answer(record, digest, now)
        try:
            response = method(view, request, *args, **kwargs)
        except BaseException:
            idempotency_record_release(record=record)
            raise
        if response.status_code >= 500:
            idempotency_record_release(record=record)
            return response
        # Render now, as DRF would after the view returns, so the bytes stored are the bytes
        # sent (rendering twice is a no-op: the response remembers it was rendered).
        try:
            response = view.finalize_response(request, response, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
        except BaseException:
            idempotency_record_release(record=record)
            raise
        idempotency_record_finish(
            record=record,
            status_code=response.status_code,
            content=response.content,
            content_type=response["Content-Type"],
        )
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # checked by the tests for every POST
    return wrapper
