"""The security log records a refused admin filter or sort order (issue 12)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_send_reset_link_permission'),
    ]

    operations = [
        migrations.AlterField(
            model_name='securityevent',
            name='kind',
            field=models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_default', 'Signed in with default credentials'), ('sign_in_failed', 'Sign-in failed'), ('sign_out', 'Signed out'), ('locked_out', 'Locked out'), ('pin_changed', 'PIN changed'), ('pin_failed', 'Wrong PIN'), ('pin_locked', 'PIN locked'), ('password_changed', 'Password changed'), ('sub_password_changed', 'Sub password changed'), ('email_change_requested', 'Email change requested'), ('email_changed', 'Email changed'), ('language_changed', 'Language changed'), ('password_reset_requested', 'Password reset requested'), ('password_reset', 'Password reset by email'), ('pin_reset_requested', 'PIN reset requested'), ('pin_reset', 'PIN reset by email'), ('member_viewed', 'Member record viewed by staff'), ('admin_lookup_refused', 'Admin filter or sort order refused')], max_length=32, verbose_name='what'),
        ),
    ]
