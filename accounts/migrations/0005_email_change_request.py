"""Email-change requests become rows: the limits count them in the database and each
confirmation link works once (issue 12, finding 6)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_send_reset_link_permission"),
    ]

    operations = [
        migrations.CreateModel(
            name="EmailChangeRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("new_email", models.EmailField(db_index=True, max_length=254)),
                ("mailbox", models.CharField(db_index=True, max_length=254)),
                ("nonce_hash", models.CharField(blank=True, max_length=64, null=True, unique=True)),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="email_change_requests",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["member", "-created"], name="accounts_em_member__7dc688_idx"
                    )
                ],
            },
        ),
    ]
