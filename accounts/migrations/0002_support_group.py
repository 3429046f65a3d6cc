"""The Support group: staff who look members up may view members and the security log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = "Support"
PERMISSIONS = ["view_member", "view_securityevent"]


def create_support_group(apps, schema_editor):
    # Permissions are normally made after all migrations; make ours now so the group can
    # hold them on a fresh database.
    accounts = apps.get_app_config("accounts")
    accounts.models_module = True
    create_permissions(accounts, apps=apps, verbosity=0)
    accounts.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT)
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="accounts", codename__in=PERMISSIONS)
    )


def delete_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=SUPPORT).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_support_group, delete_support_group)]
