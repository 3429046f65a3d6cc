"""Support staff see invoices (to answer a member's question about one), read-only."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = "Support"


def let_support_view_invoices(apps, schema_editor):
    # Permissions are normally made after all migrations; make this one now so the group can
    # hold it on a fresh database.
    backoffice = apps.get_app_config("backoffice")
    backoffice.models_module = True
    create_permissions(backoffice, apps=apps, verbosity=0)
    backoffice.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.get(content_type__app_label="backoffice", codename="view_invoice")
    for group in Group.objects.filter(name=SUPPORT):
        group.permissions.add(view)


def take_it_back(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=SUPPORT):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="backoffice", codename="view_invoice"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_invoice"),
        ("accounts", "0002_support_group"),
    ]

    operations = [migrations.RunPython(let_support_view_invoices, take_it_back)]
