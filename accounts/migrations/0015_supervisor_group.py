"""The Supervisor group (issue 17): everything Support may do, and also turn a member's
two-step verification off and deactivate or reactivate a member, each after an identity check
whose reason the agent records."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPERVISOR_ONLY = ["reset_two_step", "deactivate_member"]


def add_supervisor(apps, schema_editor):
    accounts = apps.get_app_config("accounts")
    accounts.models_module = True
    create_permissions(accounts, apps=apps, verbosity=0)
    accounts.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    support, _ = Group.objects.get_or_create(name="Support")
    supervisor, _ = Group.objects.get_or_create(name="Supervisor")
    supervisor.permissions.add(
        *support.permissions.all(),
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=SUPERVISOR_ONLY
        ),
    )


def remove_supervisor(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Supervisor").delete()
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="accounts", codename__in=SUPERVISOR_ONLY
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_passkeys"),
        ("backoffice", "0003_support_views_invoices"),  # Support's permissions, all of them
    ]

    operations = [
        migrations.AlterModelOptions(
            name="member",
            options={
                "permissions": [
                    ("send_reset_link", "Can email a member a password or PIN reset link"),
                    ("reset_two_step", "Can turn a member's two-step verification off"),
                    ("deactivate_member", "Can deactivate or reactivate a member"),
                ],
                "verbose_name": "member",
                "verbose_name_plural": "members",
            },
        ),
        migrations.RunPython(add_supervisor, remove_supervisor),
    ]
