"""Support staff can see and clear a django-axes lockout in admin (issue 8)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = ["view_accessattempt", "delete_accessattempt"]


def allow(apps, schema_editor):
    axes = apps.get_app_config("axes")
    axes.models_module = True
    create_permissions(axes, apps=apps, verbosity=0)
    axes.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    support, _ = Group.objects.get_or_create(name="Support")
    support.permissions.add(
        *Permission.objects.filter(content_type__app_label="axes", codename__in=PERMISSIONS)
    )


def disallow(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for support in Group.objects.filter(name="Support"):
        support.permissions.remove(
            *Permission.objects.filter(content_type__app_label="axes", codename__in=PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_group"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(allow, disallow)]
