"""Supervisors correct a registered email address (issue 17): who asked and why, on the
request; the permission, given to the Supervisor group."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def allow(apps, schema_editor):
    accounts = apps.get_app_config("accounts")
    accounts.models_module = True
    create_permissions(accounts, apps=apps, verbosity=0)
    accounts.models_module = None
    Permission = apps.get_model("auth", "Permission")
    supervisor, _ = apps.get_model("auth", "Group").objects.get_or_create(name="Supervisor")
    supervisor.permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="correct_email")
    )


def disallow(apps, schema_editor):
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="accounts", codename="correct_email"
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0015_supervisor_group'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='member',
            options={'permissions': [('send_reset_link', 'Can email a member a password or PIN reset link'), ('reset_two_step', "Can turn a member's two-step verification off"), ('deactivate_member', 'Can deactivate or reactivate a member'), ('correct_email', "Can correct a member's registered email address")], 'verbose_name': 'member', 'verbose_name_plural': 'members'},
        ),
        migrations.AddField(
            model_name='emailchangerequest',
            name='reason',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='emailchangerequest',
            name='requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(allow, disallow),
    ]
