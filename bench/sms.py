"""An SMS backend for the simulated day (bench/simulate.py): it sends nothing and records each send.

Every send appends one line, `<notice id> <parcel id>`, to a file (`SIM_SMS_RECORD`, by default
var/sim/sms-sent.log), so the simulation can count the messages a buyer would have received and
find one sent twice or never. Nothing personal is written: no phone number, name or text. The
file is opened with O_APPEND for each line, so the worker's processes can share it: each line is
a single short write, which the kernel appends whole.

    SMS_BACKEND=bench.sms.RecordingSmsBackend
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

REFERENCE_PREFIX = "notice-"  # parcels.notices.send passes reference=f"notice-{notice.pk}"


def record_path() -> Path:
    return Path(os.environ.get("SIM_SMS_RECORD") or Path(settings.VAR_DIR) / "sim" / "sms-sent.log")


class RecordingSmsBackend:
    """Same interface as the backends in parcels.notices: `send(to=, text=, reference=)`."""

    def send(self, *, to: str, text: str, reference: str) -> None:
        if not reference.startswith(REFERENCE_PREFIX):
            raise ValueError(f"unexpected SMS reference {reference[:40]!r}")
        notice_id = int(reference.removeprefix(REFERENCE_PREFIX))
        # The sender holds the notice's row lock in this same transaction: a primary-key read
        # on the same connection, which cannot wait on anyone. Plain SQL, because the worker
        # does this for every message and the ORM would cost more than the send it records.
        with connection.cursor() as cur:
            cur.execute("SELECT parcel_id FROM parcels_notice WHERE id = %s", [notice_id])
            row = cur.fetchone()
        parcel_id = row[0] if row else None
        path = record_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{notice_id} {parcel_id}\n".encode())
        finally:
            os.close(fd)
