"""Messages to buyers: when they are due, what they say, and how they are sent.

Scheduling writes `Notice` rows inside the transaction of the change that makes them due, so a
notice exists exactly when its cause committed. Sending is idempotent: a notice is sent under a
row lock and only while it is pending, however often the task runs.

SMS goes through a backend chosen by `SMS_BACKEND`:

- `parcels.notices.FileSmsBackend` (development): one text file per message under `var/sms/`;
- `parcels.notices.LocmemSmsBackend` (tests): an in-memory outbox;
- `parcels.notices.HttpSmsBackend` (production): a JSON POST to `SMS_GATEWAY_URL` with
  `Authorization: Bearer SMS_GATEWAY_TOKEN`, body `{"to", "text", "reference"}`; `reference` is
  the notice id, so a gateway can drop a repeat.

E-mail goes through Django's e-mail backend (EMAIL_URL).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from config import outbox, sql
from config.celery import queue_on_commit

from . import codes
from .models import Notice, Parcel

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


# --- SMS backends -------------------------------------------------------------------------------


class SmsError(Exception):
    """Sending failed. `permanent` errors are not retried (a rejected number, bad credentials)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class FileSmsBackend:
    """Development: each message becomes a file in var/sms/, like Django's file e-mail backend."""

    def send(self, *, to: str, text: str, reference: str) -> None:
        folder = Path(settings.VAR_DIR) / "sms"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        (folder / f"{stamp}-{reference}.txt").write_text(f"To: {to}\n\n{text}\n")


class LocmemSmsBackend:
    """Tests: messages are kept in `LocmemSmsBackend.outbox`."""

    outbox: list[dict[str, str]] = []

    def send(self, *, to: str, text: str, reference: str) -> None:
        LocmemSmsBackend.outbox.append({"to": to, "text": text, "reference": reference})


class HttpSmsBackend:
    """A generic HTTP SMS gateway: POST JSON, Bearer token. 4xx is permanent, the rest retried."""

    def send(self, *, to: str, text: str, reference: str) -> None:
        body = json.dumps({"to": to, "text": text, "reference": reference}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
            settings.SMS_GATEWAY_URL,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            raise SmsError(
                f"gateway answered {exc.code}", permanent=400 <= exc.code < 500
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"gateway unreachable: {type(exc).__name__}") from None


@lru_cache(maxsize=4)
def _backend(path: str) -> FileSmsBackend | LocmemSmsBackend | HttpSmsBackend:
    return import_string(path)()


def sms_backend() -> FileSmsBackend | LocmemSmsBackend | HttpSmsBackend:
    return _backend(settings.SMS_BACKEND)


# --- scheduling ---------------------------------------------------------------------------------


def _local_send_time(deadline: dt.datetime, days_before: int, station_tz: dt.tzinfo) -> dt.datetime:
    """`days_before` days before the deadline's local date, at the morning send hour, local time."""
    day = deadline.astimezone(station_tz).date() - dt.timedelta(days=days_before)
    return dt.datetime.combine(day, dt.time(settings.NOTICE_SEND_HOUR), tzinfo=station_tz)


def reminder_times(parcel: Parcel) -> dict[str, dt.datetime]:
    """When the reminder and the final notice fall due for a parcel on the shelf."""
    tz = parcel.station.tzinfo
    assert parcel.hold_deadline is not None  # on the shelf: check-in set its deadline
    return {
        Notice.Kind.REMINDER: _local_send_time(
            parcel.hold_deadline, settings.NOTICE_REMINDER_DAYS_BEFORE, tz
        ),
        Notice.Kind.FINAL: _local_send_time(parcel.hold_deadline, 1, tz),
    }


def _channels(parcel: Parcel) -> list[str]:
    channels: list[str] = [Notice.Channel.SMS]
    if parcel.recipient_email:
        channels.append(Notice.Channel.EMAIL)
    return channels


def schedule_for_check_in(parcel: Parcel, *, now: dt.datetime) -> list[Notice]:
    """The pickup notice now, then the reminder and the final notice, each where it is still
    ahead of us (a short hold may leave no time for a reminder). Call inside the check-in's
    transaction; the pickup notices are sent as soon as it commits."""
    rows = []
    times = {Notice.Kind.PICKUP: now, **reminder_times(parcel)}
    for kind, due in times.items():
        if kind != Notice.Kind.PICKUP and due <= now:
            continue
        for channel in _channels(parcel):
            rows.append(Notice(parcel=parcel, kind=kind, channel=channel, due_at=due))
    # A parcel is checked in once (the check-in moves it out of `announced` under its lock), so
    # these rows are new: inserted plainly, they come back with their ids, and the pickup notices
    # are queued by id without looking them up again.
    sql.insert(rows)  # every check-in writes these: plain SQL (config/sql.py)
    _send_on_commit([n.pk for n in rows if n.kind == Notice.Kind.PICKUP])
    return rows


def reschedule_reminders(parcel: Parcel) -> None:
    """After the deadline moved (an extension): pending reminders follow it."""
    for kind, due in reminder_times(parcel).items():
        Notice.objects.filter(parcel=parcel, kind=kind, status=Notice.Status.PENDING).update(
            due_at=due
        )


def schedule_returned(parcels: Iterable[Parcel], *, now: dt.datetime) -> None:
    """Tell buyers their parcel goes back to the sender (not collected in time, or recalled)."""
    rows = [
        Notice(parcel=p, kind=Notice.Kind.RETURNED, channel=channel, due_at=now)
        for p in parcels
        for channel in _channels(p)
    ]
    Notice.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    # The due-notice sweep sends them; nudge it once this transaction has committed.
    queue_on_commit("parcels.tasks.send_due_notices")


def _send_on_commit(notice_ids: list[int]) -> None:
    # One callback per notice, each failing soft: a notice not queued is due now and not queued,
    # so the due-notice sweep sends it.
    for notice_id in notice_ids:
        queue_on_commit("parcels.tasks.send_notice", notice_id)


# --- rendering and sending ----------------------------------------------------------------------

# A notice is only worth sending while the parcel is where the notice says it is.
_STILL_RELEVANT: dict[str, set[str]] = {
    Notice.Kind.PICKUP: {Parcel.Status.AT_STATION},
    Notice.Kind.REMINDER: {Parcel.Status.AT_STATION},
    Notice.Kind.FINAL: {Parcel.Status.AT_STATION},
    Notice.Kind.RETURNED: {Parcel.Status.RETURN_DUE, Parcel.Status.RETURNED},
}


def render(notice: Notice) -> dict[str, str]:
    """What the notice's channel sends, in the buyer's language: the SMS text, or the e-mail
    subject and body. Only the channel's own templates are rendered."""
    parcel = notice.parcel
    link = settings.SITE_URL + reverse("pickup", args=[parcel.pickup_token])
    context = {
        "parcel": parcel,
        "station": parcel.station,
        "link": link,
        "code": parcel.pickup_code,
        "deadline": timezone.localtime(parcel.hold_deadline, parcel.station.tzinfo)
        if parcel.hold_deadline
        else None,
    }
    with translation.override(parcel.language):
        if notice.channel == Notice.Channel.SMS:
            return {"sms": render_to_string(f"sms/{notice.kind}.txt", context).strip()}
        return {
            "subject": render_to_string(
                f"emails/notice_{notice.kind}_subject.txt", context
            ).strip(),
            "body": render_to_string(f"emails/notice_{notice.kind}.txt", context),
        }


def _retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


def send(notice_id: int, *, now: dt.datetime | None = None) -> str:
    """Send one notice if it is pending and due; returns its status afterwards.

    Safe to call twice, at once or later: the row lock makes a second call wait, and it then finds
    the notice sent, or (after a transient failure) not due again yet, so a repeated task neither
    sends twice nor uses up a retry. Transient failures set a later `due_at` for the sweep.
    """
    now = now or timezone.now()
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("parcel__station", "parcel__partner")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or notice.status != Notice.Status.PENDING:
            return notice.status if notice else "missing"
        # Race: a retry is scheduled for later; a duplicate of the failed run's task waits for it.
        if notice.due_at > now:
            return notice.status
        notice.queued_until = None  # this run is the one the queue was waiting for
        if notice.parcel.status not in _STILL_RELEVANT[notice.kind]:
            notice.status = Notice.Status.SKIPPED
            notice.save(update_fields=["status", "queued_until"])
            return notice.status
        notice.attempts += 1
        try:
            message = render(notice)
            if notice.channel == Notice.Channel.SMS:
                sms_backend().send(
                    to=str(notice.parcel.recipient_phone),
                    text=message["sms"],
                    reference=f"notice-{notice.pk}",
                )
            else:
                send_mail(
                    message["subject"], message["body"], None, [notice.parcel.recipient_email]
                )
        except Exception as exc:  # every failure is recorded on the notice
            permanent = getattr(exc, "permanent", False)
            # Only the exception type and our own message: never the recipient's details.
            notice.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if permanent or notice.attempts >= MAX_ATTEMPTS:
                notice.status = Notice.Status.FAILED
                logger.warning(
                    "notice %s failed for good after %s attempts", notice.pk, notice.attempts
                )
            else:
                notice.due_at = now + _retry_delay(notice.attempts)
                logger.info("notice %s attempt %s failed; retrying", notice.pk, notice.attempts)
        else:
            notice.status = Notice.Status.SENT
            notice.sent_at = now
            notice.last_error = ""
            if notice.kind == Notice.Kind.PICKUP and notice.parcel.pickup_token:
                # The buyer follows the link next: its QR is drawn here, not in their page view.
                link = settings.SITE_URL + reverse("pickup", args=[notice.parcel.pickup_token])
                codes.qr_svg(link)
        notice.save(
            update_fields=["status", "attempts", "due_at", "queued_until", "last_error", "sent_at"]
        )
        return notice.status


def claim_due(
    *, now: dt.datetime, limit: int = 500, lease: dt.timedelta = dt.timedelta(minutes=5)
) -> list[int]:
    """Pending Notice rows that are due, queued for the worker (see config.outbox)."""
    return outbox.claim_due(Notice, now=now, limit=limit, lease=lease)
