"""E-mails about stations, sent by the Celery worker."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import models
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from config.celery import queue_task
from stations.earnings import month_to_close, statements_close_month
from stations.tenancy import network_scope

from .models import Invitation, Membership, Statement, Station

logger = logging.getLogger(__name__)

# Transient mail failures are retried with backoff; anything else is a bug and fails loudly.
_RETRY = {
    "autoretry_for": (smtplib.SMTPException, ConnectionError, TimeoutError),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "max_retries": 8,
}


def _claim(model: type[models.Model], pk: int, stamp: str) -> bool:
    """Mark a row as mailed before sending (False if another run already did): a task delivered
    twice sends once. `_release` undoes it when sending fails, so the retry can send."""
    return bool(
        model._default_manager.filter(pk=pk, **{f"{stamp}__isnull": True}).update(
            **{stamp: timezone.now()}
        )
    )


def _release(model: type[models.Model], pk: int, stamp: str) -> None:
    model._default_manager.filter(pk=pk).update(**{stamp: None})


def _send(template: str, context: dict, to: list[str]) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        body = render_to_string(f"emails/{template}.txt", context)
    send_mail(subject, body, None, to)


@shared_task(**_RETRY)
def send_station_decision(station_id: int) -> None:
    """Tell a station's owners that their application was approved or rejected."""
    station = Station.objects.filter(pk=station_id).first()
    if station is None or station.status not in (Station.Status.ACTIVE, Station.Status.REJECTED):
        return
    # Claim the e-mail first: a task delivered twice sends once. If sending then fails, the
    # claim is released so the retry can send.
    if not _claim(Station, station.pk, "decision_mailed_at"):
        return
    owners = list(
        Membership.objects.filter(station=station, role=Membership.Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    if not owners:
        return
    template = "station_approved" if station.status == Station.Status.ACTIVE else "station_rejected"
    context = {
        "station": station,
        "dashboard_url": settings.SITE_URL + reverse("stations:dashboard", args=[station.slug]),
    }
    try:
        _send(template, context, owners)
    except Exception:
        _release(Station, station.pk, "decision_mailed_at")
        raise
    logger.info("station %s decision mailed (%s)", station.pk, station.status)


@shared_task(**_RETRY)
def send_invitation(invitation_id: int) -> None:
    invitation = (
        Invitation.objects.select_related("station", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:
        return
    # Claim first, as above: a repeated delivery sends once; a failure releases the claim.
    if not _claim(Invitation, invitation.pk, "mailed_at"):
        return
    context = {
        "invitation": invitation,
        "accept_url": settings.SITE_URL + reverse("invitation", args=[invitation.token]),
    }
    try:
        _send("invitation", context, [invitation.email])
    except Exception:
        _release(Invitation, invitation.pk, "mailed_at")
        raise
    logger.info("invitation %s mailed", invitation.pk)


@shared_task
def close_previous_month() -> int:
    """Beat, daily: close last month's statements once the month is over everywhere."""
    month = month_to_close(timezone.now())
    if month is None:
        return 0
    with network_scope():
        return statements_close_month(month=month)


@shared_task(**_RETRY)
def send_statements(month_iso: str) -> int:
    """E-mail each owner the month's statement, once per statement (claimed before sending)."""
    month = dt.date.fromisoformat(month_iso)
    sent = 0
    with network_scope():
        pending = list(
            Statement.objects.filter(month=month, mailed_at__isnull=True)
            .select_related("station")
            .order_by("pk")
        )
        for statement in pending:
            if not _claim(Statement, statement.pk, "mailed_at"):
                continue
            owners = list(
                Membership.objects.filter(
                    station=statement.station, role=Membership.Role.OWNER
                ).values_list("user__email", flat=True)
            )
            if owners:
                url = settings.SITE_URL + reverse(
                    "stations:earnings", args=[statement.station.slug]
                )
                try:
                    _send("statement", {"statement": statement, "earnings_url": url}, owners)
                except Exception:
                    _release(Statement, statement.pk, "mailed_at")  # the task's retry sends it
                    raise
                sent += 1
    return sent


# The sweep leaves a just-queued e-mail to its own task, and gives up on one this old: a station
# decided, or an invitation sent, days ago is news nobody is waiting for any more.
SWEEP_GRACE = dt.timedelta(minutes=5)
SWEEP_HORIZON = dt.timedelta(days=3)


@shared_task
def send_unmailed() -> int:
    """Beat's backstop for the station e-mails: queue again every decision, invitation and
    statement e-mail whose task was lost (a broker outage at the kick, a worker killed before it
    sent). The tasks claim before sending, so one queued twice still sends once. Returns how many
    tasks it queued; stops at the first the broker refuses (the next sweep tries again)."""
    now = timezone.now()
    settled, horizon = now - SWEEP_GRACE, now - SWEEP_HORIZON
    decided = Station.objects.filter(
        decision_mailed_at__isnull=True,
        status__in=(Station.Status.ACTIVE, Station.Status.REJECTED),
    ).filter(
        models.Q(approved_at__range=(horizon, settled))
        | models.Q(rejected_at__range=(horizon, settled))
    )
    kicks: list[tuple[object, object]] = [
        (send_station_decision, pk) for pk in decided.values_list("pk", flat=True)[:500]
    ]
    invited = Invitation.objects.filter(
        mailed_at__isnull=True,
        accepted_at__isnull=True,
        created_at__range=(horizon, settled),
        expires_at__gt=now,
    )
    kicks += [(send_invitation, pk) for pk in invited.values_list("pk", flat=True)[:500]]
    with network_scope():
        months = (
            Statement.objects.filter(mailed_at__isnull=True, created_at__range=(horizon, settled))
            .order_by()
            .values_list("month", flat=True)
            .distinct()
        )
        kicks += [(send_statements, month.isoformat()) for month in months]
    queued = 0
    for task, arg in kicks:
        if not queue_task(task, arg):
            break
        queued += 1
    if queued:
        logger.info("re-queued %s station e-mails", queued)
    return queued
