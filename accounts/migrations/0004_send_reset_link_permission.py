"""Support staff may email a member a password or PIN reset link from admin (issue 7)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def allow(apps, schema_editor):
    accounts = apps.get_app_config("accounts")
    accounts.models_module = True
    create_permissions(accounts, apps=apps, verbosity=0)
    accounts.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    support, _ = Group.objects.get_or_create(name="Support")
    support.permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="send_reset_link")
    )


def disallow(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="accounts", codename="send_reset_link"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_support_clears_lockouts"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="member",
            options={
                "permissions": [
                    ("send_reset_link", "Can email a member a password or PIN reset link")
                ],
                "verbose_name": "member",
                "verbose_name_plural": "members",
            },
        ),
        migrations.RunPython(allow, disallow),
    ]
