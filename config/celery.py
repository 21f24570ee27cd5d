"""The Celery app. Configuration lives in Django settings under the CELERY_ prefix."""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Celery, Task, signals
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("stationkeeper")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@app.on_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport (the embedded default) expects its folders to exist. Read
    # Django's settings, not sender.conf: the app is still being configured here.
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                Path(str(folder)).mkdir(parents=True, exist_ok=True)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: object = None, **kwargs: object) -> None:
    # CELERY_DB_REUSE_MAX (settings) stops Celery's Django fix-up closing the database connection
    # around every task. Instead a task treats the connection as a request does: it is kept for
    # CONN_MAX_AGE, checked before reuse (CONN_HEALTH_CHECKS) and dropped after an error, so a
    # restarted PostgreSQL costs one failed task, not hundreds.
    # A task applied eagerly runs inside its caller's transaction: that connection is not ours.
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


# --- queueing from requests ---------------------------------------------------------------------

# What a dead or unreachable broker raises when a task is published: kombu's wrapper once the
# publish retries are used up, or the client's own error where kombu lets it through.
BROKER_DOWN = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)


def queue_task(task: Task | str, *args: Any) -> bool:
    """Publish `task(*args)`; False, with a warning, if the broker cannot take it.

    `task` is a task or its name: the apps' rules queue tasks by name, so that a rule never
    imports the tasks that call it (the README's import rule); each app's `ready()` imports its
    tasks, so the name is registered in every process that runs Django.

    A change that has committed must not turn into an error page because its kick failed. Buyer
    notices and webhook deliveries are outbox rows that beat's sweeps pick up anyway (`due_at`,
    `queued_until`), and the station e-mails are claimed by a `*_mailed_at` column that
    `stations.tasks.send_unmailed` sweeps, so for all of them the kick only makes delivery prompt.
    Only the task's name and ids go into the log.
    """
    if isinstance(task, str):
        task = app.tasks[task]
    try:
        task.delay(*args)
    except BROKER_DOWN as exc:
        logger.warning(
            "could not queue %s%s (%s); beat's sweep will pick it up",
            task.name,
            list(args),
            type(exc).__name__,
        )
        return False
    return True


def queue_on_commit(task: Task | str, *args: Any) -> None:
    """Queue `task(*args)` (a task or its name) once the current transaction commits, failing
    soft (queue_task), so a failed kick neither answers the committed request with an error nor
    skips the callbacks registered after it."""
    transaction.on_commit(partial(queue_task, task, *args))
