# Idempotency records: a lease on a claimed key, and the response body kept as the exact bytes sent.

import json

import django.utils.timezone
from django.db import migrations, models


def body_to_content(apps, schema_editor):
    # Answers stored before this migration (at most 24 hours old) are re-encoded the way DRF's
    # JSONRenderer writes them, so they still replay. Unfinished claims get a lapsed lease.
    IdempotencyRecord = apps.get_model("partners", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.exclude(status_code=0).iterator():
        record.content = json.dumps(
            record.body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
        record.content_type = "application/json"
        record.save(update_fields=["content", "content_type"])


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0003_delivery_leases'),
    ]

    operations = [
        migrations.AddField(
            model_name='idempotencyrecord',
            name='content',
            field=models.BinaryField(default=bytes),
        ),
        migrations.AddField(
            model_name='idempotencyrecord',
            name='content_type',
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name='idempotencyrecord',
            name='locked_until',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(body_to_content, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name='idempotencyrecord',
            name='body',
        ),
    ]
